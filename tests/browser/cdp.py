"""A minimal Chrome DevTools Protocol driver for headless Chromium (no playwright here):
start the browser, open a page, evaluate JavaScript, wait for loads, take screenshots.

Talks to the browser over its debugging websocket with tornado.websocket, on loopback only.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from tornado.websocket import websocket_connect

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--remote-debugging-address=127.0.0.1",
         "--remote-debugging-port=0", "--window-size=1280,860"]


class Browser:
    """One headless Chromium; ``extra_flags`` are added to :data:`FLAGS` (e.g. the fake media
    device flags a recording test needs), so other tests keep the plain command line."""

    def __init__(self, extra_flags: list[str] | tuple[str, ...] = ()):
        self.extra_flags = list(extra_flags)
        self.proc = None
        self.profile = None
        self.ws = None
        self.ids = itertools.count(1)
        self.events: list[dict] = []

    async def start(self) -> "Browser":
        self.profile = tempfile.mkdtemp(prefix="pult-chromium-")
        self.proc = subprocess.Popen([CHROMIUM, *FLAGS, *self.extra_flags, f"--user-data-dir={self.profile}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("chromium did not start its DevTools endpoint")
            await asyncio.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        async with httpx.AsyncClient() as c:
            for _ in range(100):
                targets = (await c.get(f"http://127.0.0.1:{port}/json/list")).json()
                pages = [t for t in targets if t["type"] == "page"]
                if pages:
                    break
                await asyncio.sleep(0.1)
        self.ws = await websocket_connect(pages[0]["webSocketDebuggerUrl"], max_message_size=64 << 20)
        await self.send("Page.enable")
        await self.send("Runtime.enable")
        await self.send("Log.enable")
        return self

    async def send(self, method: str, **params) -> dict:
        msg_id = next(self.ids)
        await self.ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            raw = await asyncio.wait_for(self.ws.read_message(), 30)
            if raw is None:
                raise RuntimeError("DevTools connection closed")
            msg = json.loads(raw)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def wait_event(self, method: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("method") == method:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {method} within {timeout} s")
            raw = await asyncio.wait_for(self.ws.read_message(), left)
            if raw is None:
                raise RuntimeError("DevTools connection closed")
            self.events.append(json.loads(raw))

    async def goto(self, url: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        await self.send("Page.navigate", url=url)
        await self.wait_event("Page.loadEventFired")

    async def eval(self, expression: str):
        res = await self.send("Runtime.evaluate", expression=expression, returnByValue=True,
                              awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"JS error: {res['exceptionDetails']}")
        return res["result"].get("value")

    async def submit_and_wait(self, js_submit: str) -> None:
        self.events = [e for e in self.events if e.get("method") != "Page.loadEventFired"]
        await self.eval(js_submit)
        await self.wait_event("Page.loadEventFired")

    async def wait_for(self, expression: str, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not await self.eval(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} stayed false for {timeout} s")
            await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> Path:
        data = await self.send("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def console_problems(self) -> list[str]:
        """Console errors and CSP violations seen so far."""
        out = []
        for ev in self.events:
            if ev.get("method") == "Log.entryAdded" and ev["params"]["entry"]["level"] == "error":
                out.append(ev["params"]["entry"]["text"])
            if ev.get("method") == "Runtime.exceptionThrown":
                out.append(str(ev["params"]["exceptionDetails"].get("text")))
        return out

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)
