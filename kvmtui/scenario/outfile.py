"""The one place kvmtui writes a user's file: scenario save (ctrl+s), `kvmtui import -o`, trace and SVG export.

What a user has on disk is never lost or changed in kind:
- a path that exists in any form (a file, a symbolic link, a dangling one too) is written only when the
  caller says so (`--force`, or the app's confirmation); otherwise the answer is one line and nothing
  happens;
- anything but a regular file (a device node such as /dev/full, a FIFO, a socket, a directory, a file under
  /proc or /sys) is never written or replaced;
- a symbolic link is written *through*: its target gets the text, the link stays a link (a dangling link's
  target is created, --force given);
- an existing file keeps its inode properties that matter to a user: with one link it is replaced
  atomically (a temporary file beside the target, fsynced, renamed over it) carrying the old file's mode
  and, where allowed, its owner; with more than one hard link it is rewritten in place, so every link
  sees the new text (a rename would leave the other names on the old inode); that in-place write is not
  atomic, which is the price of keeping the links;
- a new file is created with mode 0666 less the umask (0644 under the usual umask), like any editor's,
  and never over a file that appeared meanwhile (it is linked into place, which fails if the name exists).
Every refusal is a ScenarioError naming the output path (one line, exit 2).
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from .errors import ScenarioError
from .inputfile import _is_pseudo, _kind_of


def _fail(path: str | Path, message: str) -> ScenarioError:
    return ScenarioError(str(path), None, None, message)


def resolve_target(path: str | Path) -> tuple[Path, os.stat_result | None, bool]:
    """(the file that would be written, its stat or None if it does not exist, whether `path` is a link).
    Symbolic links are followed to the end of their chain; a dangling link resolves to its missing target."""
    p = Path(path)
    is_link = p.is_symlink()
    target = Path(os.path.realpath(p)) if is_link else p
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise _fail(path, "a component of the path is not a directory") from None
    except OSError as e:
        raise _fail(path, f"cannot write: {e.strerror or e}") from None
    return target, st, is_link


def output_problem(path: str | Path, *, overwrite: bool) -> str | None:
    """Why `path` cannot be written (with `overwrite` as given), or None. The same checks write_output()
    makes, for prompts that answer before any work is done."""
    try:
        _check(path, overwrite)
    except ScenarioError as e:
        return e.message
    return None


def _check(path: str | Path, overwrite: bool) -> tuple[Path, os.stat_result | None]:
    text = str(path)
    if not text:
        raise _fail(path, "no path given")
    if "\0" in text:
        raise _fail(path, "a path cannot hold a NUL byte")
    target, st, is_link = resolve_target(path)
    if _is_pseudo(target):
        raise _fail(path, "is in /proc or /sys: kvmtui writes regular files only")
    if st is not None and not stat.S_ISREG(st.st_mode):
        shown = f" (a link to {target})" if is_link else ""
        raise _fail(path, f"{_kind_of(st.st_mode)}{shown}: kvmtui writes regular files only and never replaces anything else")
    if os.path.lexists(path) and not overwrite:
        if st is None:
            raise _fail(path, f"is a dangling symbolic link to {target} (use --force, or confirm, to create it)")
        raise _fail(path, "exists (use --force, or confirm in the app, to overwrite it)")
    parent = target.parent
    if not parent.exists():
        raise _fail(path, f"folder {parent} does not exist")
    if not parent.is_dir():
        raise _fail(path, f"{parent} is not a folder")
    return target, st


def write_output(path: str | Path, data: str | bytes, *, overwrite: bool = False) -> Path:
    """Write data to path as described above; returns the file actually written (a link's target)."""
    target, st = _check(path, overwrite)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        if st is None:
            _create(target, raw)
        elif st.st_nlink > 1:
            _rewrite_in_place(target, raw, st)
        else:
            _replace(target, raw, st)
    except ScenarioError:
        raise
    except OSError as e:
        raise _fail(path, f"not written: {e.strerror or e}") from None
    return target


def _temp_beside(target: Path, mode: int) -> tuple[int, Path]:
    """A new temporary file in the target's folder, created with `mode` under the process umask."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode), tmp
        except FileExistsError:
            continue
    raise OSError(17, "cannot create a temporary file", str(target.parent))


def _write_all(fd: int, raw: bytes) -> None:
    view = memoryview(raw)
    while view:
        n = os.write(fd, view)
        view = view[n:]
    os.fsync(fd)


def _create(target: Path, raw: bytes) -> None:
    fd, tmp = _temp_beside(target, 0o666)  # the umask makes it 0644 as usual
    try:
        try:
            _write_all(fd, raw)
        finally:
            os.close(fd)
        try:
            os.link(tmp, target)  # fails if the name appeared meanwhile: never clobber
        except FileExistsError:
            raise _fail(target, "appeared while writing; not overwritten") from None
        except OSError:
            # a file system without hard links: an exclusive create is the next best no-clobber write
            fd2 = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            try:
                _write_all(fd2, raw)
            finally:
                os.close(fd2)
    finally:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass


def _replace(target: Path, raw: bytes, st: os.stat_result) -> None:
    fd, tmp = _temp_beside(target, 0o600)
    try:
        try:
            os.fchmod(fd, stat.S_IMODE(st.st_mode))
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except PermissionError:
                    pass  # not ours to give away; the mode is kept all the same
            _write_all(fd, raw)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _rewrite_in_place(target: Path, raw: bytes, st: os.stat_result) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        now = os.fstat(fd)
        if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino) or not stat.S_ISREG(now.st_mode):
            raise _fail(target, "changed while writing; not overwritten")
        _write_all(fd, raw)
        os.ftruncate(fd, len(raw))
        os.fsync(fd)
    finally:
        os.close(fd)
