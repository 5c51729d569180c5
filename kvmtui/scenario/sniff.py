"""What a file is, from its first bytes: an ELF image, a VMM log (a QEMU trace, an strace of the KVM ioctls),
or else a scenario. Kept small: every file opened is asked this first, and the ELF reader and the log
importer (each a long module, compiled at every cold start) are imported only for their own files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from .inputfile import read_head

ELF_MAGIC = b"\x7fELF"
LogFormat = Literal["qemu-trace", "strace"]
# how strace starts a line: [pid N] or N (with -f), then a time (with -t/-tt/-r)
STRACE_PREFIX = r"^(?:\[pid\s+(?P<pid>\d+)\]\s+|(?P<pid2>\d+)\s+)?(?:(?P<ts>\d{1,2}:\d{2}:\d{2}(?:\.\d+)?|\d+\.\d+)\s+)?"
# strace 6.1 prints KVM_SET_USER_MEMORY_REGION2 undecoded, as _IOC(...) (captured here: tests/data/import/COMMANDS.md)
RAW_REGION2 = r"_IOC\(_IOC_WRITE, 0xae, 0x49, 0xa0\)"
STRACE_DETECT = re.compile(r"(?m)" + STRACE_PREFIX + r"ioctl\(\d+, (?:KVM_|" + RAW_REGION2 + r")")
QEMU_DETECT = re.compile(r"(?m)^(?:\d+@\d+\.\d+:)?kvm_set_user_memory |KVM_SET_USER_MEMORY_REGION2? failed, slot=")


def is_elf(path: str | Path) -> bool:
    head = read_head(path, 4)  # never blocks on a FIFO; not a regular file: not an ELF
    return head == ELF_MAGIC


def detect_format(text: str) -> LogFormat | None:
    """Recognise a log by what its lines hold (at the start of a line), not by its name."""
    head = text[:200_000]
    # Each expression only where the words it needs are in the text: a substring search is a fast C scan, and
    # the expressions try every position (~6 ms of 200,000 characters of a scenario, which has neither).
    if ("kvm_set_user_memory " in head or "KVM_SET_USER_MEMORY_REGION" in head) and QEMU_DETECT.search(head):
        return "qemu-trace"
    if "ioctl(" in head and STRACE_DETECT.search(head):
        return "strace"
    return None


def looks_like_log(path: str | Path) -> bool:
    head = read_head(path)  # never blocks; None for anything but a regular file
    if head is None or b"\0" in head:
        return False
    return detect_format(head.decode("utf-8", errors="replace")) is not None
