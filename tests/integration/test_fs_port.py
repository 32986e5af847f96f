"""The FreeSWITCH port (``PULT_FS_PORT``, fs_config/server.py): what the switch asks over HTTP is
served by an event loop of its own, in a thread of its own, over the same store.

- the xml_curl answers come from the store (embedded; with ``MONGO_URL`` MongoDB through a client
  of that loop), and a change made in the cabinet — on the main loop — is in the very next answer
  on the FreeSWITCH port;
- nothing but the switch's routes and ``/healthz`` is served there (the cabinet and the API: 404);
- a setup that fails, or a port that is taken, is an error of ``start`` and leaves nothing running;
  stopping ends the thread and frees the port.
(The whole server with a blocked main loop: tests/integration/test_server_e2e.py.)
"""
from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from esl_control.model.crypto import SecretBox
from esl_control.model.sip.services import SipAccountService
from fs_config.server import FsHttpServer, call_in_loop, switch_routes
from pult.settings import SettingsError, load_settings
from tests.integration.test_provisioning_xml_curl import (ADMIN, DOMAIN_A, SOCKET, directory_form, md5, params,
                                                          tenants, user_of)
from tests.integration.test_xml_curl_http import SECRET, basic, fs_body

__all__ = ["tenants"]  # the fixture

pytestmark = pytest.mark.timeout(60)


def _refused(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


def _fs_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pult-fs-http"]


async def _fetch(url: str, **kw):
    client = AsyncHTTPClient(force_instance=True)
    try:
        return await client.fetch(HTTPRequest(url, **kw), raise_error=False)
    finally:
        client.close()


async def test_the_fs_port_answers_from_the_store_on_its_own_loop_and_sees_cabinet_changes(tenants, store, settings):
    db, _, ids = tenants
    xml_settings = store.settings.model_copy(update={"xml_curl_secret": SECRET, "xml_curl_allow": "127.0.0.0/8"})
    setup = switch_routes(xml_settings, store, socket_address=SOCKET, box=SecretBox.from_settings(settings))
    where: dict = {}

    async def recording_setup(stack):  # where the routes (and whatever they hold) were made
        where["loop"], where["thread"] = asyncio.get_running_loop(), threading.current_thread().name
        return await setup(stack)

    server = FsHttpServer(recording_setup, host="127.0.0.1", port=0)
    await asyncio.to_thread(server.start)
    base = f"http://127.0.0.1:{server.port}"
    try:
        assert where["thread"] == "pult-fs-http" and where["loop"] is not asyncio.get_running_loop()
        assert where["loop"] is server.loop

        async def lookup() -> str:
            resp = await _fetch(base + "/fs/xml-curl", method="POST",
                                body=fs_body(directory_form("ivanov", DOMAIN_A)),
                                headers={"Authorization": basic("freeswitch", SECRET)})
            assert resp.code == 200 and resp.headers["Content-Type"].startswith("text/xml")
            return resp.body.decode()

        assert params(user_of(await lookup())[1])["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:Secret123x")
        assert params(user_of(await lookup())[1])["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:Secret123x")  # kept
        # the cabinet changes the password on the main loop: the next lookup on the fs port has it
        await SipAccountService(db, 101, ADMIN).update(ids["ivanov"], {
            "login": "ivanov", "password": "Changed789z", "employee_id": ids["employee"]})
        assert params(user_of(await lookup())[1])["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:Changed789z")

        # the caller checks hold there as on the main port
        denied = await _fetch(base + "/fs/xml-curl", method="POST", body=fs_body(directory_form("ivanov", DOMAIN_A)))
        assert denied.code == 401
        health = await _fetch(base + "/healthz")
        assert health.code == 200 and b'"ok"' in health.body
        # nothing of the cabinet or the API is served on the FreeSWITCH port
        for path in ("/api/v1/session", "/login", "/readyz", "/metrics", "/"):
            assert (await _fetch(base + path)).code == 404, path
    finally:
        await asyncio.to_thread(server.stop)
    assert not server.running and _fs_threads() == []
    assert _refused(server.port)


async def test_a_failing_setup_is_raised_by_start_and_leaves_nothing_running():
    opened: list[str] = []

    async def setup(stack):
        stack.callback(opened.append, "closed")  # what the setup opened is closed again
        raise ValueError("PULT_XML_CURL_ALLOW: 'nonsense' is not an address or CIDR")

    server = FsHttpServer(setup, host="127.0.0.1", port=0)
    with pytest.raises(ValueError, match="PULT_XML_CURL_ALLOW"):
        await asyncio.to_thread(server.start)
    assert opened == ["closed"] and not server.running and _fs_threads() == []
    assert _refused(server.port)


async def test_a_taken_fs_port_is_an_error_naming_the_setting(tmp_path):
    from pult.cli import start_fs_server

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = load_settings(data_dir=tmp_path, http_port=8080, fs_port=port, http_host="127.0.0.1")
        with pytest.raises(OSError, match=f"PULT_FS_PORT={port}: cannot listen on 127.0.0.1:{port}"):
            await start_fs_server(settings, store=None)
    assert _fs_threads() == []


def test_the_fs_port_is_validated():
    with pytest.raises(SettingsError, match="PULT_FS_PORT=8080 is PULT_HTTP_PORT too"):
        load_settings(http_port=8080, fs_port=8080)
    with pytest.raises(SettingsError, match="PULT_FS_PORT=8084 is PULT_OUTBOUND_PORT too"):
        load_settings(outbound_port=8084, fs_port=8084)
    with pytest.raises(SettingsError, match="PULT_FS_PORT"):
        load_settings(fs_port=70000)
    assert load_settings().fs_port == 8085
    assert load_settings(http_host="10.0.0.5").fs_base_url == "http://10.0.0.5:8085"
    assert load_settings(fs_host="127.0.0.1", http_host="0.0.0.0").fs_base_url == "http://127.0.0.1:8085"


async def test_a_call_made_from_the_fs_loop_runs_in_the_loop_that_owns_the_objects():
    """What the main loop owns (the call-record writer) is reached from the fs loop by handing the
    call over: it runs in its own loop, and the caller in the fs loop gets its result."""
    main = asyncio.get_running_loop()
    lock = asyncio.Lock()  # bound to the main loop on first use

    async def owned(x: int) -> tuple:
        async with lock:
            return x * 2, asyncio.get_running_loop()

    await owned(0)
    results: list = []

    def other_thread() -> None:
        async def in_other_loop():
            results.append(await call_in_loop(main, owned)(21))
            results.append(asyncio.get_running_loop())
        asyncio.run(in_other_loop())

    await asyncio.to_thread(other_thread)
    (value, ran_in), other = results
    assert value == 42 and ran_in is main and other is not main


async def test_a_mongodb_store_gets_a_client_of_the_fs_loop_and_an_unreachable_one_is_named(tmp_path):
    """MongoDB's async client belongs to one loop: the FreeSWITCH port's setup opens its own, and
    when the server cannot be reached, starting fails naming the store (the MongoDB variant of
    the first test serves through it when MONGO_URL is set)."""
    from storage.client import StoreUnavailable, open_store

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    settings = load_settings(data_dir=tmp_path, mongo_url=f"mongodb://127.0.0.1:{dead}/?directConnection=true",
                             mongo_db="pult_fs_port", redis_url=f"redis://127.0.0.1:{dead}/0")
    store = open_store(settings)
    try:
        server = FsHttpServer(switch_routes(settings, store, socket_address=SOCKET), host="127.0.0.1", port=0)
        with pytest.raises(StoreUnavailable, match=f"MongoDB mongodb://127.0.0.1:{dead}/.* database pult_fs_port"):
            await asyncio.to_thread(server.start)
        assert _fs_threads() == [] and _refused(server.port)
    finally:
        await store.close()
