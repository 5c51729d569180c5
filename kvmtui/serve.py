"""`kvmtui serve SCENARIO`: the app in a browser, through textual-serve.

Each browser tab gets its own app process (textual-serve starts the command per websocket). The server
listens on 127.0.0.1 unless told otherwise; `--live` is refused, since every visitor would drive this
machine's /dev/kvm. In the browser, save, export and screenshot are delivered to the visitor as downloads
(App.deliver_text / deliver_screenshot), never written on the server's disk.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def app_command(scenario: str, kernel: str | None, path: str | None, theme: str | None, lesson: bool) -> str:
    """The shell command textual-serve runs for each visitor: this Python, this kvmtui, an absolute path."""
    words = [sys.executable, "-m", "kvmtui", str(Path(scenario).resolve())]
    if kernel:
        words += ["--kernel", kernel]
    if path:
        words += ["--path", path]
    if theme:
        words += ["--theme", theme]
    if lesson:
        words.append("--lesson")
    return shlex.join(words)


def serve(command: str, host: str, port: int, title: str) -> None:
    from textual_serve.server import Server

    Server(command, host=host, port=port, title=title).serve()
