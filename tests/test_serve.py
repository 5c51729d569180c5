"""`kvmtui serve`: a real server, spoken to as the browser page does (textual-serve's websocket protocol),
its output drawn by a terminal emulator (pyte); and, where a Chromium is installed, a real browser.

Traffic stays on 127.0.0.1; every wait is bounded; the server is stopped by the test."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from kvmtui.cli import main
from kvmtui.serve import app_command

ROOT = Path(__file__).parent.parent
ROM = str(ROOT / "samples" / "rom.yaml")
COLS, ROWS = 100, 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(*args: str):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "kvmtui", "serve", ROM, "--port", str(port), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"kvmtui serve exited: {proc.stderr.read().decode()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("kvmtui serve did not listen within 60 s")
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # the server and the app processes it started
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


class Browser:
    """What the page's JavaScript does: a websocket to /ws, keys as ["stdin", ...], bytes into a terminal."""

    def __init__(self, ws, session, port: int) -> None:
        import pyte

        self.ws, self.session, self.port = ws, session, port
        self.screen = pyte.Screen(COLS, ROWS)
        self.stream = pyte.ByteStream(self.screen)
        self.messages: list = []

    def text(self) -> str:
        return "\n".join(self.screen.display)

    async def pump(self, until, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not until():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; the screen:\n{self.text()}")
            try:
                msg = await self.ws.receive(timeout=left)
            except TimeoutError:
                continue
            if msg.type.name == "BINARY":
                self.stream.feed(msg.data)
            elif msg.type.name == "TEXT":
                self.messages.append(json.loads(msg.data))
            elif msg.type.name in ("CLOSE", "CLOSED", "ERROR"):
                raise AssertionError(f"the websocket closed; the screen:\n{self.text()}")

    async def press(self, key: str) -> None:
        await self.ws.send_json(["stdin", key])


@pytest.mark.asyncio
async def test_a_websocket_client_steps_to_the_read_only_write_and_downloads_the_trace():
    pytest.importorskip("pyte")
    import aiohttp

    with server() as port:
        async with aiohttp.ClientSession() as session, session.ws_connect(f"http://127.0.0.1:{port}/ws?width={COLS}&height={ROWS}") as ws:
            b = Browser(ws, session, port)
            await b.pump(lambda: "step 1/11" in b.text())
            assert "RO (step 2)" in b.text() or "READONLY (step 2)" in b.text()  # the ROM slot, before it exists
            for n in range(2, 7):
                await b.press("n")
                await b.pump(lambda n=n: f"step {n}/11" in b.text())
            await b.pump(lambda: "KVM_EXIT_MMIO write phys_addr=0xfffe0000" in b.text())
            screen = b.text()
            assert "READ-ONLY WRITE → KVM_EXIT_MMIO" in screen and "READONLY" in screen
            await b.press("x")  # export: delivered to the browser, not written on the server
            await b.pump(lambda: any(m[0] == "deliver_file_start" for m in b.messages))
            key = next(m[1] for m in b.messages if m[0] == "deliver_file_start")
            async with session.get(f"http://127.0.0.1:{port}/download/{key}") as r:
                body = await asyncio.wait_for(r.text(), 60)
            lines = [json.loads(x) for x in body.splitlines()]
            assert len(lines) == 11 and lines[5]["outcome"] == "mmio"


def test_serve_refuses_live_and_bad_input(capsys, tmp_path):
    assert main(["serve", ROM, "--live"]) == 2
    assert "--live is refused" in capsys.readouterr().err
    assert main(["serve", str(tmp_path / "nope.yaml")]) == 2
    assert main(["serve", ROM, "--port", "70000"]) == 2
    assert "not a TCP port" in capsys.readouterr().err


def test_the_served_command_is_this_kvmtui_on_an_absolute_path_and_localhost_by_default():
    cmd = app_command("samples/rom.yaml", "3.7", None, "high-contrast", True)
    assert cmd.startswith(sys.executable) and str(Path("samples/rom.yaml").resolve()) in cmd
    assert "--kernel 3.7" in cmd and "--theme high-contrast" in cmd and "--lesson" in cmd and "--live" not in cmd
    from kvmtui.cli import build_serve_parser

    args = build_serve_parser().parse_args(["rom"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)


CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)


@pytest.mark.skipif(CHROMIUM is None, reason="no Chromium installed (Debian: apt-get install chromium); Playwright's own browser download is not used")
def test_a_real_browser_steps_to_the_read_only_write(tmp_path):
    """The real page in Chromium: its JavaScript opens the websocket and turns key presses into stdin. The page
    draws on a canvas, so what it received is read back by feeding the frames the browser got into pyte."""
    playwright = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    pyte = pytest.importorskip("pyte")
    screen = pyte.Screen(250, 80)  # at least the page's terminal: the app draws with absolute cursor moves
    stream = pyte.ByteStream(screen)

    def frames(ws) -> None:
        ws.on("framereceived", lambda payload: stream.feed(payload) if isinstance(payload, bytes) else None)

    def text() -> str:
        return "\n".join(screen.display)

    def wait_for(what: str, page, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while what not in text():
            assert time.monotonic() < deadline, f"{what!r} not on screen:\n{text()}"
            page.wait_for_timeout(200)

    with server() as port, playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 640})
            page.on("websocket", frames)
            page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
            wait_for("step 1/11", page)
            page.mouse.click(500, 320)
            for n in range(2, 7):
                page.keyboard.press("n")
                wait_for(f"step {n}/11", page)
            wait_for("KVM_EXIT_MMIO", page)
            assert "READ-ONLY WRITE" in text()
            page.screenshot(path=str(tmp_path / "browser.png"))
        finally:
            browser.close()
