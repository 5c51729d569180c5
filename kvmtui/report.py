"""The trace as JSON lines (trace-format.md); table.py writes it for people. Reads records; derives nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import IO, TYPE_CHECKING, Any

from .engine.calls import KernelCall
from .engine.records import MmioExit, StepRecord, access_summary
from .engine.uapi import flag_names
from .engine.vocabulary import ACCESS_OPS, Op

if TYPE_CHECKING:  # (annotations only: run.py's Protocol is not built for a trace, nor dirty_bitmap.py imported)
    from .engine.dirty_bitmap import DirtyPages
    from .run import Run
    from .runner import TraceEntry


def entry_json(run: Run, e: TraceEntry) -> dict[str, Any]:
    """The JSON object of one entry (trace-format.md)."""
    return _EntryJson(run)(e)


class _EntryJson:
    """Entries to JSON objects for one run. What is the same on every line (the era, the path, whether the
    run has symbols at all) is read once, not per line: accesses are the hot path of a long trace."""

    __slots__ = ("kernel", "path", "run", "symbol")

    def __init__(self, run: Run) -> None:
        self.run = run
        self.kernel = run.kernel
        self.path = run.path
        self.symbol = run.symbol if run.scenario.symbols else None  # no ELF symbols: every line says null

    def __call__(self, e: TraceEntry) -> dict[str, Any]:
        r = e.record
        if r.op in ACCESS_OPS:
            return self.access(e)
        spec = e.spec
        out = {
            "step": e.index,
            "phase": spec.phase,
            "op": r.op,
            "outcome": r.outcome,
            "expect_met": e.expect_met,
            "note": spec.note_for(self.kernel, self.path),
        }
        _other_json(self.run, r, out)
        out["summary"] = r.summary
        if e.unmet:
            out["unmet"] = list(e.unmet)
        if e.unchecked:
            out["unchecked"] = list(e.unchecked)
        return out

    def access(self, e: TraceEntry) -> dict[str, Any]:
        """A guest access: one dict display in the contract's key order, its summary included
        (StepRecord.summary from the parts at hand), then unmet and unchecked as __call__ adds them."""
        r = e.record
        spec = e.spec
        a = r.args
        gpa = a["gpa"]
        size = a["size"]
        op = r.op
        outcome = r.outcome
        exits = r.exits
        unmet = e.unmet
        symbol = self.symbol
        chain = r.chain
        spte = r.spte
        out = {
            "step": e.index,
            "phase": spec.phase,
            "op": op,
            "outcome": outcome,
            "expect_met": None if unmet is None else (False if unmet else (None if e.unchecked else True)),  # e.expect_met
            "note": spec.note if spec.note_variants is None else spec.note_for(self.kernel, self.path),
            "vcpu": a["vcpu"],
            "gpa": gpa,
            "size": size,
            "value": r.value,
            "slot": r.slot,
            "hva": r.hva,
            "pfn": r.pfn,
            "symbol": None if symbol is None else symbol(gpa),
            "exits": _exits_json(exits) if exits else [],
            "chain": [_call_json(c) if c.note or c.key else {"fn": c.fn, "ret": c.ret, "args": c.args} for c in chain]
            if len(chain) > 1 else [_call_json(chain[0])] if chain else [],
            # SpteState is a StrEnum: orjson writes its value, which is its str(). Most accesses touch one page
            # and have one call (an spte hit): a list display costs less than a comprehension's frame.
            "spte": [{"gfn": s.gfn, "before": s.before, "after": s.after} for s in spte]
            if len(spte) > 1 else [{"gfn": spte[0].gfn, "before": spte[0].before, "after": spte[0].after}] if spte else [],
        }
        if r.exit_reason:
            out["exit_reason"] = r.exit_reason
        if r.dirtied:
            out["dirtied"] = [{"slot": s, "page": p} for s, p in r.dirtied]
        out["summary"] = r.message or access_summary(op, size, gpa, outcome, r.value, len(exits))
        if unmet:
            out["unmet"] = list(unmet)
        if e.unchecked:
            out["unchecked"] = list(e.unchecked)
        return out


def _exits_json(exits: tuple[MmioExit, ...]) -> list[dict[str, Any]]:
    return [{"reason": "KVM_EXIT_MMIO", "phys_addr": x.phys_addr, "len": x.len, "data": x.data.hex(), "is_write": x.is_write}
            for x in exits]


def _call_json(c: KernelCall) -> dict[str, str | bool]:
    """One chain entry as the contract writes it: fn, ret, args, then note and key only when set."""
    if c.key:
        return {"fn": c.fn, "ret": c.ret, "args": c.args, "note": c.note, "key": True} if c.note else {"fn": c.fn, "ret": c.ret, "args": c.args, "key": True}
    return {"fn": c.fn, "ret": c.ret, "args": c.args, "note": c.note} if c.note else {"fn": c.fn, "ret": c.ret, "args": c.args}


def _other_json(run: Run, r: StepRecord, out: dict[str, Any]) -> None:
    a = r.args
    if r.op == Op.SET_MEMORY_REGION:
        out.update(slot=a["slot"], gpa=a["gpa"], size=a["size"], hva=a["hva"], flags=flag_names(a["flags"]), kind=r.kind,
                   ioctl=a.get("ioctl", 1), guest_memfd=a.get("guest_memfd"))
    elif r.op == Op.GET_DIRTY_LOG:
        d = r.dirty
        out.update(slot=a["slot"], dirty=None if d is None else (list(d) if len(d) <= LONG_PAGES else LongPages(d)))
    elif r.op == Op.CHECK_EXTENSION:
        out.update(cap=a["cap"], value=r.cap_value)
    elif r.op == Op.CREATE_VM:
        out.update(vm_type=a["vm_type"])
    elif r.op == Op.CREATE_GUEST_MEMFD:
        out.update(name=a["name"], size=a["size"], flags=list(a["flags"]))
    elif r.op == Op.ENABLE_CAP:
        out.update(cap=a["cap"], args=list(a["args"]), value=r.value)
    elif r.op == Op.CLEAR_DIRTY_LOG:
        out.update(slot=a["slot"], first_page=a["first_page"], num_pages=a["num_pages"])
    elif r.op == Op.HARVEST_DIRTY_RING:
        out.update(vcpu=a["vcpu"], ring=[list(x) for x in r.ring] if r.ring is not None else None)
    elif r.op == Op.RESET_DIRTY_RINGS:
        out.update(value=r.value)
    else:
        out.update(host=run.host_label(a["hva"]), size=a["size"])
        if "prot" in a:
            out["prot"] = a["prot"]
    out["chain"] = [{"fn": c.fn, "ret": c.ret, "args": c.args, **({"note": c.note} if c.note else {})} for c in r.chain]


JSON_BATCH = 512  # lines per write: few system calls, and a reader sees records while the run goes on


def dump_line(obj: dict[str, Any]) -> bytes:
    """One JSON line, compact, as orjson writes it. orjson stops at 64-bit integers; the value a 9-15 byte
    fetch read is wider, so such a line is written by the json module in the same compact form."""
    import orjson  # (orjson and json: only where JSON is written, not for a table)

    try:
        return orjson.dumps(obj, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        import json

        return (json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


LONG_PAGES = 1 << 16  # a get_dirty_log reporting more pages than this has its `dirty` list written in pieces
_PIECE = 1 << 20  # page indices per piece


class LongPages:
    """A `dirty` list too long to build whole (a 1 TiB slot all set is 2^28 indices, 2.6 GB of JSON): orjson
    refuses it, and long_pages_line() writes it piece by piece. The line is the same as for a short list."""

    __slots__ = ("pages",)

    def __init__(self, pages: DirtyPages) -> None:
        self.pages = pages


def long_pages_line(obj: dict[str, Any]) -> Iterator[bytes]:
    """The JSON line of obj, whose `dirty` is LongPages, in pieces of at most _PIECE indices."""
    import orjson

    pages: DirtyPages = obj["dirty"].pages
    head, tail = dump_line({**obj, "dirty": _MARK}).split(orjson.dumps(_MARK), 1)
    yield head + b"["
    it = iter(pages)
    sep = b""
    while piece := list(islice(it, _PIECE)):
        yield sep + ",".join(map(str, piece)).encode()
        sep = b","
    yield b"]" + tail


_MARK = "\x00pages\x00"  # stands in for the list while the rest of the line is written


def write_json_lines(run: Run, entries: Iterable[TraceEntry], out: IO[str]) -> None:
    """One JSON object per entry, written as the entries come (entries may be a stream: nothing is kept)."""
    import orjson

    dumps, newline = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    binary = getattr(out, "buffer", None)  # a text stream over bytes (stdout, a file): write orjson's bytes as they are
    if binary is not None:
        out.flush()
    batch: list[bytes] = []
    append = batch.append
    to_json = _EntryJson(run)
    access, access_ops, batch_lines = to_json.access, ACCESS_OPS, JSON_BATCH  # read once: a line per step
    for e in entries:
        obj = access(e) if e.record.op in access_ops else to_json(e)
        try:
            append(dumps(obj, option=newline))
        except TypeError:
            if isinstance(obj.get("dirty"), LongPages):  # written in pieces as it is made: memory stays bounded
                _flush(batch, out, binary)
                for piece in long_pages_line(obj):
                    _flush([piece], out, binary)
            else:
                append(dump_line(obj))
        if len(batch) >= batch_lines:
            _flush(batch, out, binary)
    _flush(batch, out, binary)


def _flush(batch: list[bytes], out: IO[str], binary: IO[bytes] | None) -> None:
    if binary is not None:
        binary.write(b"".join(batch))
        binary.flush()
    else:
        out.write(b"".join(batch).decode("utf-8"))
    batch.clear()
