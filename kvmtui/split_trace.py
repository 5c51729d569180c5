"""`trace --json` on two cores: a second process writes the end of a long trace while the first writes the rest.

The simulated run is deterministic: the same scenario on the same machine gives the same records, byte for
byte, in any process. So a child forked just before the run replays the steps without writing them (the
engine alone: about two thirds of what a written line costs), while the parent writes the lines from the
first on, to stdout, exactly as one process does. Being quicker, the child catches up; where the steps left
after it match the steps the parent still has to write to reach it, it claims the rest: from that step it
writes the lines into an anonymous memory file, and the parent stops there, then copies the child's lines after
its own. Nothing crosses between the two but two numbers (how far the parent is, where the child took over)
and bytes already in their final form, so the output is the same as a one-process trace's. The meeting point
is found as the run goes, so it suits any mix of steps (faults cost more than spte hits, and a layout's
slots more than either).

The parent never depends on the child: should the child fail (an exception, a signal, no memory file), the
parent's own stream is at the meeting point and it writes the rest itself; should the child be late, the
parent just goes on to the end. The child writes nothing of its own anywhere (no traceback, no output),
leaves at once on Ctrl-C, stops if its parent has gone, and is killed by the parent if the parent stops
early (a reader that went away: `| head`).
"""

from __future__ import annotations

import gc
import mmap
import os
import signal
import sys
from collections.abc import Iterator
from typing import IO

from .report import write_json_lines
from .runner import ScenarioRun, TraceEntry

MIN_STEPS = 20_000  # below this, the fork and the pages it copies cost about what the second core saves
# The child's lines wait in memory until the parent's are out: at most this many (a line is a few hundred
# bytes), so a trace of millions of steps holds tens of megabytes, not gigabytes.
CHILD_MAX_STEPS = 120_000
_LOOK_EVERY = 256  # steps the child replays between looks at the parent's progress (and whether it is alive)
_COPY = 1 << 20  # bytes per read when the child's lines are copied out
_PROGRESS, _CLAIM = 0, 1  # the shared page's words: the parent's next step; the child's first (0: none yet)


def use_second_core(n_steps: int, cpus: int | None = None) -> bool:
    """Whether a trace of n_steps is worth a second process: long enough, a second CPU to run it, and fork."""
    if cpus is None:
        cpus = usable_cpus()
    return n_steps >= MIN_STEPS and cpus >= 2 and hasattr(os, "fork")


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity: a container's or taskset's limit), else the count."""
    getaffinity = getattr(os, "sched_getaffinity", None)
    if getaffinity is not None:
        return len(getaffinity(0))
    return os.cpu_count() or 1


def write_json_split(run: ScenarioRun, out: IO[str]) -> int | None:
    """run's JSON lines to out (a text stream over bytes, as stdout is), the end of them made by a forked
    child; the same bytes as write_json_lines(run, run.stream(), out). Returns the step (0-based) from which
    the child's lines were written, or None if the parent wrote them all."""
    taken: int | None = None
    n = len(run)
    binary = out.buffer  # type: ignore[attr-defined]
    for stream in (out, sys.stderr):  # the child must not inherit half-written buffers and write them again
        stream.flush()
    # Every object alive now (the scenario, the run) is left out of later collections: a full collection
    # writes into each object it walks, and after the fork each such write copies a page of memory.
    gc.freeze()  # (undone at the end: the caller's later objects are collected as ever)
    page = mmap.mmap(-1, mmap.PAGESIZE)  # shared with the child (MAP_SHARED): two aligned 8-byte words
    shared = memoryview(page).cast("q")
    parent = os.getpid()
    tail, child = -1, None
    try:
        tail = _memory_file()
        child = os.fork()
    except OSError:  # no second process today (a process limit, no memory): nobody claims, the parent writes all
        pass
    if child == 0:
        _child(run, n, shared, tail, parent)  # never returns
    try:
        entries = run.stream()
        stop = [n]
        write_json_lines(run, _until_claimed(entries, shared, stop), out)
        if child is not None and stop[0] < n:  # the child claimed the steps from shared[_CLAIM] on
            status = os.waitpid(child, 0)[1]
            child = None
            if os.waitstatus_to_exitcode(status) == 0:
                out.flush()
                _copy(tail, binary, skip=stop[0] - shared[_CLAIM])
                taken = stop[0]
            else:  # the child failed: the parent's stream is where it stopped, and it writes the rest itself
                write_json_lines(run, entries, out)
    finally:
        if child is not None:  # not waited for: the parent wrote every line, or stopped early (the reader went, Ctrl-C)
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
        if tail >= 0:
            os.close(tail)
        shared.release()
        page.close()
        gc.unfreeze()
    return taken


def claims(c: int, n: int, progress: int) -> bool:
    """Whether the child, having replayed c of n steps while the parent has written `progress` lines, takes
    the rest: both write a line in about the same time, so they end together when the child's lines from c
    on (n - c) are as many as the parent still has to write to reach c (c - progress)."""
    return 2 * c >= n + progress


def _until_claimed(entries: Iterator[TraceEntry], shared: memoryview, stop: list[int]) -> Iterator[TraceEntry]:
    """The stream's entries up to the step the child claims, told through shared[_PROGRESS]: each step is
    checked before it is run, so the stream is left exactly where the parent stopped (stop[0])."""
    for i, e in enumerate(entries, 1):
        yield e
        shared[_PROGRESS] = i
        claim = shared[_CLAIM]
        if claim and i >= claim:
            # (i > claim only if the child was held up between reading the parent's step and claiming: the
            # parent then skips the lines of the child's it wrote itself)
            stop[0] = i
            return


def _child(run: ScenarioRun, n: int, shared: memoryview, tail: int, parent: int) -> None:
    """Replay the steps until the rest is as much work as the parent has left to reach them, claim them, write
    them as JSON lines into `tail`, and leave (status 0: complete)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C reaches both processes: the child just ends
        entries = run.stream()
        floor = n - CHILD_MAX_STEPS  # the child's lines wait in memory: never more than CHILD_MAX_STEPS
        for c, _ in enumerate(entries, 1):
            if c % _LOOK_EVERY == 0:
                if os.getppid() != parent:
                    break
                if c >= floor and claims(c, n, shared[_PROGRESS]):
                    shared[_CLAIM] = c
                    with open(tail, "w", encoding="utf-8", closefd=False) as f:
                        write_json_lines(run, entries, f)
                    code = 0
                    break
    finally:
        # Whatever happened (an exception is dropped here, unprinted: the parent writes these lines itself),
        # never the parent's exit path: no atexit, no flushing of the streams it inherited.
        os._exit(code)


def _memory_file() -> int:
    """A file descriptor of an anonymous file: in memory (memfd) where the system has it, else a temporary
    file already unlinked."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        try:
            return int(memfd_create("kvmtui-trace-tail", os.MFD_CLOEXEC))
        except OSError:
            pass
    import tempfile

    return os.dup(tempfile.TemporaryFile().fileno())


def _copy(fd: int, binary: IO[bytes], skip: int = 0) -> None:
    """The memory file's bytes from its start to binary, after its first `skip` lines."""
    offset = 0
    while skip:
        chunk = os.pread(fd, _COPY, offset)
        if not chunk:
            return
        lines = chunk.count(b"\n")
        if lines < skip:
            skip -= lines
            offset += len(chunk)
            continue
        at = -1
        for _ in range(skip):
            at = chunk.index(b"\n", at + 1)
        offset += at + 1
        skip = 0
    while chunk := os.pread(fd, _COPY, offset):
        binary.write(chunk)
        offset += len(chunk)
    binary.flush()
