"""Structured logs and error reporting: what an operator relies on when something goes wrong."""
from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer


def test_json_log_lines_carry_level_logger_time_and_fields():
    script = (
        "import logging\n"
        "from pult.observability import setup_logging, get_logger\n"
        "setup_logging('json', 'INFO')\n"
        "get_logger('pult.test').info('node up', node='fs1', attempt=2)\n"
        "logging.getLogger('tornado.general').warning('from a library')\n"
        "logging.getLogger('pult.test').debug('hidden at INFO')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = [json.loads(line) for line in proc.stderr.splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["event"] == "node up" and first["node"] == "fs1" and first["attempt"] == 2
    assert first["level"] == "info" and first["logger"] == "pult.test"
    assert first["timestamp"].endswith("Z")
    assert second["event"] == "from a library" and second["level"] == "warning"


class _Sink(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):  # noqa: N802 — the stdlib's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        _Sink.received.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def test_sentry_receives_an_unhandled_error_when_a_dsn_is_set():
    """With SENTRY_DSN set, an error reaches Sentry tagged with the component; without it,
    nothing is initialised (no traffic)."""
    server = HTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    dsn = f"http://publickey@127.0.0.1:{server.server_port}/1"
    script = (
        "import sentry_sdk\n"
        "from pult.observability import setup_sentry\n"
        f"assert setup_sentry({dsn!r}, 'pult-worker') is True\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError:\n"
        "    sentry_sdk.capture_exception()\n"
        "sentry_sdk.flush(5)\n"
        "assert setup_sentry(None, 'pult-server') is False\n")
    try:
        subprocess.run([sys.executable, "-c", script], check=True, timeout=30)
    finally:
        server.shutdown()
    payload = b"\n".join(_Sink.received)
    assert b"ZeroDivisionError" in payload
    assert b"pult-worker" in payload
