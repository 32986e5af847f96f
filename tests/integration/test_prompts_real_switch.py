"""The say modules of a real FreeSWITCH ask for files the generated prompt set has (real-switch
tier: runs when ``FREESWITCH_ESL`` names a node, skipped otherwise).

Over the Event Socket, ``api say_string`` makes mod_say_ru / mod_say_en list the files they would
play for a number or a duration; each must be in the set, and the list must be the one
:mod:`esl_control.prompts.say` predicts (which the unit tests check against the whole set). The
node needs ``mod_say_ru``, ``mod_say_en`` and a ``<language>`` entry for ``ru`` and ``en`` in its
phrases (deploy/freeswitch/lang/pult_say.xml).
"""
from __future__ import annotations

import os
import socket

import pytest

from esl_control.prompts.say import SAY_TEXTS, duration_files, number_files
from pult.settings import parse_nodes

pytestmark = pytest.mark.freeswitch

NUMBERS = [0, 1, 2, 5, 11, 19, 20, 21, 25, 99, 100, 101, 110, 115, 200, 999, 1000, 1001, 1999, 2000, 2021,
           3500, 5000, 11000, 21000, 25000, 100000, 101101, 999999, 1000000, 2000000, 5000000, 21000000,
           123456789]
DURATIONS = [(0, 0, 5), (0, 1, 0), (1, 1, 1), (2, 3, 4), (5, 21, 22), (11, 12, 14), (24, 59, 59)]


class _Esl:
    """The few lines of the inbound Event Socket protocol this test needs (auth, api)."""

    def __init__(self, host: str, port: int, password: str) -> None:
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        assert self._read()[0].get("Content-Type") == "auth/request"
        self.sock.sendall(f"auth {password}\n\n".encode())
        headers, _ = self._read()
        assert headers.get("Reply-Text", "").startswith("+OK"), headers

    def _read(self) -> tuple[dict[str, str], str]:
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("FreeSWITCH closed the Event Socket")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\n\n", 1)
        headers = dict(line.split(": ", 1) for line in head.decode().splitlines() if ": " in line)
        length = int(headers.get("Content-Length", 0))
        while len(self.buf) < length:
            self.buf += self.sock.recv(65536)
        body, self.buf = self.buf[:length], self.buf[length:]
        return headers, body.decode()

    def api(self, command: str) -> str:
        self.sock.sendall(f"api {command}\n\n".encode())
        return self._read()[1]

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def esl():
    nodes = parse_nodes(os.environ.get("FREESWITCH_ESL", ""))
    if not nodes:
        pytest.skip("needs a real FreeSWITCH (FREESWITCH_ESL)")
    conn = _Esl(nodes[0].host, nodes[0].port, nodes[0].password)
    yield conn
    conn.close()


def _files(api, lang: str, what: str) -> list[str]:
    out = api(f"say_string {lang}.wav {lang} {what}").strip()
    assert out.startswith("file_string://"), f"say_string {lang} {what}: {out}"
    return [f.removesuffix(".wav") for f in out.removeprefix("file_string://").split("!")]


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_the_switch_says_numbers_and_durations_with_files_of_the_set(esl, lang):
    check_say(esl.api, lang)


def check_say(api, lang: str) -> None:
    """``api(command) -> body`` of a switch's Event Socket: its say module for ``lang`` asks for the
    files :mod:`esl_control.prompts.say` predicts, each of them in the generated set (also run by
    the real-switch tier on its own switch: tests/realfs/test_say.py)."""
    for n in NUMBERS:
        files = _files(api, lang, f"number pronounced {n}")
        assert files == number_files(lang, n), n
        assert all(f in SAY_TEXTS[lang] for f in files), (n, files)
        files = _files(api, lang, f"number iterated {n}")
        assert files == number_files(lang, n, method="iterated"), n
    for h, m, s in DURATIONS:
        files = _files(api, lang, f"time_measurement pronounced {h}:{m}:{s}")
        assert files == duration_files(lang, h, m, s), (h, m, s)
        assert all(f in SAY_TEXTS[lang] for f in files), (h, m, s, files)
    if lang == "en":
        for n in (1, 2, 3, 13, 20, 40, 42, 90):
            files = _files(api, lang, f"number counted {n}")
            assert files == number_files(lang, n, method="counted"), n
            assert all(f in SAY_TEXTS[lang] for f in files), (n, files)
