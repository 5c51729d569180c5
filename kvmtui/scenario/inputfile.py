"""The one place kvmtui reads a user's input file: scenarios, ELF images, VMM logs, maps and mtree files.

Hostile input must not hang or bloat the program, so every read here is bounded:
- the file is opened with O_NONBLOCK and checked with fstat *before* any read: a FIFO never blocks the
  open or the read, and devices (/dev/zero), sockets and directories are refused with one line;
- only regular files are read; files under /proc and /sys (whose size says nothing and which may never end)
  are refused unless the caller reads a /proc file on purpose (a VMM's /proc/PID/maps);
- a size cap is checked against st_size before reading and again while reading (a file that grows, or a
  /proc file that claims size 0, stops at the cap);
- text is strict UTF-8 with the first bad byte and its line named; NUL bytes name the file binary.
Every refusal is a ScenarioError naming the file (exit 2, one line).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import ScenarioError

MAX_SCENARIO_BYTES = 16 << 20
MAX_ELF_BYTES = 512 << 20
MAX_LOG_BYTES = 256 << 20  # a QEMU trace of a long-running VM; the importer is linear in it
MAX_MAPS_BYTES = 16 << 20
SNIFF_BYTES = 200_000  # how much of a file is looked at to recognise it by content
_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISFIFO, "is a FIFO (named pipe)"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISSOCK, "is a socket"),
)
_PSEUDO_FS = ("/proc/", "/sys/")


def _kind_of(mode: int) -> str:
    for test, words in _KINDS:
        if test(mode):
            return words
    return "is not a regular file"


def _is_pseudo(path: str | Path) -> bool:
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        return False
    return any(real.startswith(p) or real + "/" == p for p in _PSEUDO_FS)


def _open_regular(path: str | Path, name: str, what: str, allow_proc: bool) -> tuple[int, int]:
    """An fd of a regular file and its size, or a ScenarioError. Never blocks (O_NONBLOCK on the open)."""
    if not allow_proc and _is_pseudo(path):
        raise ScenarioError(name, None, None, f"is a /proc or /sys file, not {what} (kvmtui reads regular files only)")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise ScenarioError(name, None, None, "no such file") from None
    except PermissionError:
        raise ScenarioError(name, None, None, "permission denied") from None
    except (OSError, ValueError) as e:  # ValueError: a NUL in the name
        raise ScenarioError(name, None, None, f"cannot open: {getattr(e, 'strerror', None) or e}") from None
    try:
        st = os.fstat(fd)
    except OSError as e:
        os.close(fd)
        raise ScenarioError(name, None, None, f"cannot read: {e.strerror or e}") from None
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ScenarioError(name, None, None, f"{_kind_of(st.st_mode)}, not {what} (kvmtui reads regular files only)")
    return fd, st.st_size


def read_bytes(path: str | Path, *, what: str = "a scenario file", limit: int = MAX_SCENARIO_BYTES,
               shown_as: str | None = None, allow_proc: bool = False) -> bytes:
    """The whole of a regular file, at most `limit` bytes, or a ScenarioError naming it."""
    name = shown_as or str(path)
    fd, size = _open_regular(path, name, what, allow_proc)
    try:
        if size > limit:
            raise ScenarioError(name, None, None, f"file too large ({size} bytes; {what} is at most {limit})")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise ScenarioError(name, None, None, f"file too large (more than {limit} bytes; {what} is at most {limit})")
        return b"".join(chunks)
    except OSError as e:
        raise ScenarioError(name, None, None, f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_head(path: str | Path, n: int = SNIFF_BYTES) -> bytes | None:
    """The first n bytes of a regular file, for recognising it by content; None for anything else
    (the full read then says what is wrong with it). Never blocks."""
    try:
        fd, _ = _open_regular(path, str(path), "an input file", allow_proc=False)
    except ScenarioError:
        return None
    try:
        return os.read(fd, n)
    except OSError:
        return None
    finally:
        os.close(fd)


def decode_text(raw: bytes, name: str, what: str = "a YAML scenario") -> str:
    """Strict UTF-8; a NUL byte names the file binary, a bad byte is named with its line."""
    if b"\x00" in raw:
        raise ScenarioError(name, None, None, f"binary file (contains NUL bytes), not {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ScenarioError(name, line, None, f"not UTF-8 text (bad byte {raw[e.start]:#04x}), not {what}") from None


def read_text(path: str | Path, *, what: str = "a YAML scenario", limit: int = MAX_SCENARIO_BYTES,
              shown_as: str | None = None, allow_proc: bool = False, strict: bool = True) -> str:
    """A bounded regular file as text. strict=False replaces bad bytes (logs, maps: lines that do not
    match are skipped anyway) but still refuses NUL bytes: a binary file is not a log."""
    name = shown_as or str(path)
    raw = read_bytes(path, what=what, limit=limit, shown_as=name, allow_proc=allow_proc)
    if strict:
        return decode_text(raw, name, what)
    if b"\x00" in raw:
        raise ScenarioError(name, None, None, f"binary file (contains NUL bytes), not {what}")
    return raw.decode("utf-8", errors="replace")
