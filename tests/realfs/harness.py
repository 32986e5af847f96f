"""The real-switch tier's moving parts: a real FreeSWITCH running the project's deploy kit, Pult
(``pult serve``, embedded store) as its own process, a minimal inbound ESL client, the cabinet's
REST API and SIPp as the phones.

Nothing here is a stand-in: the switch is ``/opt/freeswitch/bin/freeswitch`` (or the binary
named by ``PULT_TEST_FREESWITCH``), configured from ``deploy/freeswitch/`` exactly as
``deploy/README.md`` installs it; only the values in ``vars_pult.xml`` are the test's ports.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import httpx

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "freeswitch"
SKELETON = Path(__file__).resolve().parent / "conf"
DEFAULT_BINARY = "/opt/freeswitch/bin/freeswitch"
ESL_PASSWORD = "Esl-test-pw"
XML_CURL_SECRET = "xml-curl-test-secret"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_tcp_udp_port() -> int:
    """A port free for both TCP and UDP (sofia binds both)."""
    for _ in range(50):
        port = free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free TCP+UDP port")


class GaveUp(AssertionError):
    """Raised by a ``wait_until`` predicate: waiting longer cannot help (a process exited)."""


def wait_until(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = predicate()
        except GaveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - reported below when time is up
            last = exc
        if last and not isinstance(last, Exception):
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")
        time.sleep(interval)


# ------------------------------------------------------------------------------------- ESL
class Esl:
    """A small synchronous inbound Event Socket client for the tests (``api`` and events)."""

    def __init__(self, port: int, password: str = ESL_PASSWORD, host: str = "127.0.0.1",
                 timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.events: list[dict] = []  # events that arrived while waiting for a reply
        hello = self._read()
        assert hello[0].get("Content-Type") == "auth/request", hello
        reply = self.send(f"auth {password}")
        if not reply[0].get("Reply-Text", "").startswith("+OK"):
            raise ConnectionRefusedError(f"ESL auth refused: {reply[0]}")

    def _read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("ESL socket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _read(self) -> tuple[dict, str]:
        while b"\n\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("ESL socket closed")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\n\n", 1)
        headers = {}
        for line in head.decode().split("\n"):
            k, _, v = line.partition(": ")
            headers[k] = unquote(v)
        body = ""
        if "Content-Length" in headers:
            body = self._read_exact(int(headers["Content-Length"])).decode()
        return headers, body

    def send(self, command: str) -> tuple[dict, str]:
        self.sock.sendall(command.encode() + b"\n\n")
        while True:
            headers, body = self._read()
            if headers.get("Content-Type") in ("command/reply", "api/response"):
                return headers, body
            if headers.get("Content-Type", "").startswith("text/event"):
                self.events.append(_event(headers, body))

    def api(self, command: str) -> str:
        return self.send(f"api {command}")[1]

    def subscribe(self, *names: str) -> None:
        self.events = []
        self.send("event plain " + " ".join(names))

    def next_event(self, timeout: float) -> dict | None:
        if self.events:
            return self.events.pop(0)
        self.sock.settimeout(timeout)
        try:
            headers, body = self._read()
        except (socket.timeout, TimeoutError):
            return None
        finally:
            self.sock.settimeout(10)
        return _event(headers, body) if headers.get("Content-Type", "").startswith("text/event") else None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def _event(headers: dict, body: str) -> dict:
    out = {}
    for line in body.split("\n"):
        k, _, v = line.partition(": ")
        if k:
            out[k] = unquote(v)
    return out


# ------------------------------------------------------------------------------------- FreeSWITCH
@dataclass
class FsPorts:
    esl: int = field(default_factory=free_port)
    sip_internal: int = field(default_factory=free_tcp_udp_port)
    sip_external: int = field(default_factory=free_tcp_udp_port)
    rtp_start: int = 0
    rtp_end: int = 0

    def __post_init__(self):
        if not self.rtp_start:
            # an even block well away from the ephemeral range most test sockets come from
            base = 16384 + (os.getpid() % 200) * 40
            self.rtp_start, self.rtp_end = base, base + 38


def stop_process(proc: subprocess.Popen | None, grace: float) -> None:
    """Ask ``proc`` to end (SIGTERM); kill it if it has not within ``grace`` seconds."""
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


class FreeSwitch:
    """One real FreeSWITCH process running the deploy kit (see module doc)."""

    def __init__(self, binary: str, run: Path, ports: FsPorts, *, node_name: str,
                 xml_curl_url: str, outbound: str):
        self.binary = binary
        self.run = run
        self.ports = ports
        self.node_name = node_name
        self.xml_curl_url = xml_curl_url
        self.outbound = outbound
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.startup_log = ""  # the log of the latest start, until the switch answered

    # --- configuration
    def render(self) -> Path:
        """The conf directory: the skeleton, then the deploy kit copied in as deploy/README.md says."""
        conf = self.run / "conf"
        if conf.exists():
            shutil.rmtree(conf)
        shutil.copytree(SKELETON, conf)
        for sub in ("log", "db", "sounds/moh", "storage", "spool", "run", "cache", "recordings",
                    "cdr"):
            (self.run / sub).mkdir(parents=True, exist_ok=True)
        values = {
            "pult_node_name": self.node_name,
            "pult_esl_listen_ip": "127.0.0.1",
            "pult_esl_port": str(self.ports.esl),
            "pult_esl_password": ESL_PASSWORD,
            "pult_xml_curl_url": self.xml_curl_url,
            "pult_xml_curl_secret": XML_CURL_SECRET,
            "pult_outbound_socket": self.outbound,
            "pult_cdr_url": self.xml_curl_url.replace("/fs/xml-curl", "/fs/cdr"),
        }
        (conf / "vars_pult.xml").write_text(set_vars(DEPLOY.joinpath("vars_pult.xml").read_text(), values))
        (conf / "vars_test.xml").write_text(
            "<include>\n"
            f'  <X-PRE-PROCESS cmd="set" data="test_run={self.run}"/>\n'
            f'  <X-PRE-PROCESS cmd="set" data="test_rtp_start={self.ports.rtp_start}"/>\n'
            f'  <X-PRE-PROCESS cmd="set" data="test_rtp_end={self.ports.rtp_end}"/>\n'
            "</include>\n")
        for f in (DEPLOY / "autoload_configs").glob("*.xml"):
            shutil.copy(f, conf / "autoload_configs" / f.name)
        shutil.copytree(DEPLOY / "lang", conf / "lang", dirs_exist_ok=True)
        for ctx in ("public", "default"):
            (conf / "dialplan" / ctx).mkdir(parents=True, exist_ok=True)
            shutil.copy(DEPLOY / "dialplan" / "pult.xml", conf / "dialplan" / ctx / "00_pult.xml")
        return conf

    @property
    def log_path(self) -> Path:
        return self.run / "log" / "freeswitch.log"

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # --- process
    def start(self, timeout: float = 60.0) -> None:
        if self.starts == 0:
            self.render()
        self.starts += 1
        pidfile = self.run / "run" / "freeswitch.pid"
        pidfile.unlink(missing_ok=True)
        r = self.run
        cmd = [self.binary, "-nonat", "-nonatmap", "-nf", "-nc",
               "-conf", str(r / "conf"), "-log", str(r / "log"), "-db", str(r / "db"),
               "-sounds", str(r / "sounds"), "-storage", str(r / "storage"), "-run", str(r / "run"),
               "-cache", str(r / "cache"), "-recordings", str(r / "recordings")]
        self.console = open(r / "log" / f"console-{self.starts}.txt", "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.console,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        try:
            wait_until(self._answers, timeout, 0.2, "FreeSWITCH's event socket")
            self.startup_log = self.log_text()[log_start:]
        except AssertionError:  # GaveUp too
            tail = (r / "log" / f"console-{self.starts}.txt").read_text(errors="replace")[-3000:]
            self.kill()
            raise AssertionError(f"FreeSWITCH did not start (exit {self.proc.poll()}):\n{tail}") from None

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise GaveUp(f"FreeSWITCH exited with {self.proc.returncode}")
        try:
            esl = Esl(self.ports.esl, timeout=2)
        except OSError:
            return False
        try:
            return "is ready" in esl.api("status")
        finally:
            esl.close()

    def esl(self) -> Esl:
        return Esl(self.ports.esl)

    def api(self, command: str) -> str:
        esl = self.esl()
        try:
            return esl.api(command)
        finally:
            esl.close()

    def signal(self, sig: int) -> None:
        assert self.proc is not None and self.proc.poll() is None, "FreeSWITCH is not running"
        os.kill(self.proc.pid, sig)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.kill(self.proc.pid, signal.SIGCONT)
        try:
            self.api("fsctl shutdown")
        except OSError:
            pass
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill()

    def channels(self) -> list[dict]:
        out = json.loads(self.api("show channels as json") or "{}")
        return out.get("rows") or []

    def registrations(self, profile: str = "internal") -> str:
        return self.api(f"sofia status profile {profile} reg")


def set_vars(text: str, values: dict[str, str]) -> str:
    """``vars_pult.xml`` with each ``<X-PRE-PROCESS cmd="set" data="NAME=..."/>`` given ``values[NAME]``."""
    missing = set(values)

    def repl(m: re.Match) -> str:
        name = m.group(2)
        if name not in values:
            return m.group(0)
        missing.discard(name)
        return f'{m.group(1)}{name}={values[name]}"'

    out = re.sub(r'(<X-PRE-PROCESS cmd="set" data=")([a-z_]+)=[^"]*"', repl, text)
    if missing:
        raise AssertionError(f"deploy/freeswitch/vars_pult.xml has no setting(s) {sorted(missing)}")
    return out


# ------------------------------------------------------------------------------------- Pult
class Pult:
    """``pult serve`` as its own process (embedded store in ``data_dir``), restartable."""

    def __init__(self, run: Path, env: dict[str, str]):
        self.run = run
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self.base = f"http://127.0.0.1:{env['PULT_HTTP_PORT']}"

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pult.cli", *args], env=self.env, cwd=REPO,
                              capture_output=True, text=True, timeout=timeout, check=True)

    def start(self, timeout: float = 60) -> None:
        self.starts += 1
        self.log = open(self.run / f"pult-{self.starts}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "pult.cli", "serve"], env=self.env, cwd=REPO,
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise GaveUp(f"pult serve exited with {self.proc.returncode}: "
                                     f"{self.log_text()[-3000:]}")
            try:
                return httpx.get(self.base + "/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        wait_until(up, timeout, 0.2, "pult serve")

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.run.glob("pult-*.log")))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        stop_process(self.proc, 30)

    def readiness(self) -> dict:
        return httpx.get(self.base + "/readyz", timeout=5).json()

    def node(self, name: str) -> dict | None:
        for n in self.readiness()["checks"]["nodes"]:
            if n["name"] == name:
                return n
        return None

    def session(self, login: str, password: str) -> "Api":
        return Api(self.base, login, password)


class Api:
    """A logged-in cabinet/operator API client (cookie session + XSRF header), synchronous."""

    def __init__(self, base: str, login: str, password: str):
        self.http = httpx.Client(base_url=base, timeout=20)
        self.http.get("/api/v1/session")
        r = self.request("POST", "/api/v1/session", {"login": login, "password": password})
        assert r.status_code == 200, r.text

    def request(self, method: str, path: str, body=None) -> httpx.Response:
        headers = {}
        xsrf = self.http.cookies.get("_xsrf")
        if xsrf:
            headers["X-XSRFToken"] = xsrf
        return self.http.request(method, path, json=body, headers=headers)

    def ok(self, method: str, path: str, body=None) -> dict:
        r = self.request(method, path, body)
        assert r.status_code in (200, 201, 204), f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else {}


# ------------------------------------------------------------------------------------- SIPp
SIPP = shutil.which("sipp")


def sipp_send(*lines: str, sdp: str = "", retrans: bool = False) -> str:
    """A SIPp ``<send>`` of one SIP message: its start line and headers (``Content-Length`` last),
    then ``sdp`` as the body; ``retrans``: resent every 500 ms until answered (over UDP)."""
    head = "".join(f"      {line}\n" for line in lines)
    body = sdp + "\n" if sdp else ""
    return f"""<send{' retrans="500"' if retrans else ''}><![CDATA[\n{head}\n{body}  ]]></send>"""


def sipp_scenario(name: str, *steps: str) -> str:
    """A SIPp scenario file: ``steps`` are its elements in order (``sipp_send``, ``<recv …/>``, …)."""
    body = "".join(f"  {step}\n" for step in steps)
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="{name}">\n{body}</scenario>\n'


def sip_messages(trace: Path | None) -> str:
    """The SIP messages SIPp traced (``-trace_msg``) to ``trace``, so far."""
    return trace.read_text(errors="replace") if trace and trace.exists() else ""


def run_sipp_client(tmp: Path, sip_port: int, name: str, scenario: str, row: str, local_port: int,
                    timeout: int, *options: str) -> tuple[subprocess.CompletedProcess, Path]:
    """SIPp runs ``scenario`` once from 127.0.0.1:``local_port`` against the switch's ``sip_port``,
    ``row`` its injection line (``[field0]``, ``[field1]``, …) and ``options`` added to its command;
    returns the finished process and the file of the SIP messages it traced."""
    assert SIPP, "sipp is not installed"
    tag = f"{name}-{uuidlib.uuid4().hex[:8]}"
    scen, csv, trace = tmp / f"{tag}.xml", tmp / f"{tag}.csv", tmp / f"{tag}-msg.log"
    scen.write_text(scenario)
    csv.write_text(f"SEQUENTIAL\n{row}\n")
    proc = subprocess.run(
        [SIPP, f"127.0.0.1:{sip_port}", "-sf", str(scen), "-inf", str(csv), "-m", "1", *options,
         "-i", "127.0.0.1", "-p", str(local_port), "-timeout", str(timeout),
         "-trace_msg", "-message_file", str(trace), "-nostdin"],
        cwd=tmp, capture_output=True, text=True, timeout=timeout + 20)
    return proc, trace


def _register(cseq: int, *auth: str) -> str:
    return sipp_send("REGISTER sip:[field1] SIP/2.0",
                     "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
                     "From: <sip:[field0]@[field1]>;tag=[pid]SIPpTag00[call_number]",
                     "To: <sip:[field0]@[field1]>", "Call-ID: [call_id]", f"CSeq: {cseq} REGISTER",
                     "Contact: <sip:[field0]@[local_ip]:[local_port]>", *auth, "Max-Forwards: 70",
                     "Expires: [field3]", "User-Agent: SIPp-realfs", "Content-Length: 0", retrans=True)


#: REGISTER ``[field0]@[field1]`` for ``[field3]`` seconds, digest auth on the 401; stops at the
#: final answer (200, or 403/401: refused)
REGISTER_XML = sipp_scenario(
    "register", _register(1), '<recv response="401" auth="true"/>', _register(2, "[authentication]"),
    '<recv response="200" optional="true" next="ok"/>', '<recv response="403" optional="true" next="refused"/>',
    '<recv response="401" next="refused"/>',
    '<label id="ok"/>', '<nop><action><exec int_cmd="stop_now"/></action></nop>',
    '<label id="refused"/>', '<nop><action><exec int_cmd="stop_now"/></action></nop>')


@dataclass
class SipResult:
    code: int | None
    rc: int
    output: str


def sip_register(tmp: Path, sip_port: int, user: str, domain: str, password: str,
                 expires: int = 300, local_port: int | None = None) -> SipResult:
    """REGISTER ``user@domain`` with digest auth to 127.0.0.1:``sip_port``; the final SIP status."""
    proc, trace = run_sipp_client(tmp, sip_port, "reg", REGISTER_XML, f"{user};{domain};-;{expires}",
                                  local_port or free_tcp_udp_port(), 10, "-au", user, "-ap", password)
    msgs = sip_messages(trace)
    codes = [int(m) for m in re.findall(r"^SIP/2\.0 (\d{3})", msgs, re.M)]
    return SipResult(codes[-1] if codes else None, proc.returncode, msgs + proc.stdout + proc.stderr)
