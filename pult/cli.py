"""The ``pult`` command: one entry point for every Pult process.

    pult serve                 the server: web cabinet + API, mod_xml_curl, inbound/outbound ESL
                               (+ an in-process worker and beat when PULT_EMBEDDED_WORKER is on,
                               the default without MONGO_URL); what FreeSWITCH asks over HTTP
                               also on PULT_FS_PORT, served by an event loop of its own
    pult worker [-Q mail,sms]  a Celery worker
    pult beat                  the Celery beat scheduler (one per installation)
    pult create-admin LOGIN EMAIL [--password P]   an operator (platform) administrator
    pult seed-demo             the demo account, PBX, operator and tenant admin (idempotent)
    pult demo [--no-simulator] seed-demo + serve, and a FreeSWITCH simulator process placing calls
    pult check-config          validate the settings and print them (secrets hidden)
    pult prompts generate [--force]   make the prompt set by speech synthesis (quick when there)
    pult prompts check         check every prompt file of both languages (exit 1 on a problem)
    pult freeswitch-vars [--node NAME]   deploy/freeswitch/vars_pult.xml filled in for a node,
                               with the mod_xml_curl secret (generated at first start if unset)

Settings come from the environment and ``PULT_CONFIG`` (see pult/settings.py); a wrong one stops
the command with a message naming it (exit code 2).
"""
from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import os
import secrets
import signal
import socket
import string
import subprocess
import sys
from contextlib import AsyncExitStack
from datetime import timedelta
from pathlib import Path

from pult import clock
from pult.observability import get_logger, setup_logging, setup_sentry
from pult.settings import Settings, SettingsError, load_settings, set_settings

log = get_logger("pult.cli")

DEMO_ACCOUNT_NAME = "ООО «Ромашка» (демо)"
DEMO_NUMBERS = ["74951234567", "74951234568", "74951234569"]  # the pool; the first is the demo PBX's


# --- serve -----------------------------------------------------------------------------------
async def serve(settings: Settings, *, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None, banner: str | None = None) -> None:
    """Run the server until SIGINT/SIGTERM (or ``stop`` is set). Parts that cannot start (Redis
    down, a FreeSWITCH node unreachable) are reported and the rest keeps serving."""
    import fs_config
    from esl_control.service import EslService
    from jobs.billing.tasks import on_call_record
    from jobs.spool import on_call_record as import_spool_files
    from jobs.webhooks import on_call_record as webhook_call_events  # also registers the dispatcher
    from esl_control.gateway_status import GatewayStatusWatcher
    from esl_control.transport.connection import in_background
    from fs_config.server import call_in_loop
    from fs_config.tenant_providers import tenant_providers
    from storage.client import open_store
    from web.app import make_app
    from web.context import AppContext

    loop = asyncio.get_running_loop()
    stop = stop or asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread (tests)
            pass

    async with AsyncExitStack() as stack:
        store = open_store(settings)
        stack.push_async_callback(store.close)
        await store.start()
        log.info("store ready", store=store.describe())

        flow = None

        def on_record_stored(record: dict) -> None:  # each hook only queues a job, never raises
            on_call_record(record)  # rating (a leg of a call that ended after it: the call's rating)
            if record.get("leg_of"):  # a leg is part of its call's record, not a call of its own
                return
            import_spool_files(record)  # the voice mail / fax the call left in the spool
            webhook_call_events(record)  # call.ended / call.missed
            if flow is not None:  # a call of a Pult that died mid-call stops counting against the limits
                in_background(flow.call_recorded(record), where="count the recorded call out")

        # every call FreeSWITCH hands to Pult runs the call engine (issue 12); what a call needs of
        # the others (calls per PBX and trunk, the idle clock) is shared by the instances in Redis
        import redis.asyncio as aioredis

        from esl_control.flow.runner import EngineFlow
        from esl_control.flow.shared import RedisCallState
        from esl_control.prompts import PromptSet
        from web.media.signing import sound_url
        call_redis = aioredis.from_url(settings.redis_url, decode_responses=True, socket_connect_timeout=2,
                                       socket_timeout=5)
        stack.push_async_callback(call_redis.aclose)
        flow = EngineFlow(store.db, spool_dir=str(settings.spool_dir), shared=RedisCallState(call_redis),
                          prompts=PromptSet.from_settings(settings),
                          sound_url=lambda pbx_id, sound_id: sound_url(settings, pbx_id, sound_id))
        esl = EslService(settings, store, flow=flow, on_record_stored=on_record_stored)
        await esl.start()
        stack.push_async_callback(esl.stop)

        def own_address():
            return (settings.outbound_host, esl.outbound.port) if esl.outbound else None

        # the dialplan answer names a live instance: this one first, then the others that beat in
        # Redis (tried in order by the switch's socket application); a dead one drops out
        from esl_control.instances import OutboundInstances, hand_off_calls
        instances = OutboundInstances(call_redis, own_address)
        instances_stop = asyncio.Event()
        instances_task = asyncio.create_task(instances.run(instances_stop))

        async def stop_instances() -> None:  # out of every answer before the calls' sockets close
            instances_stop.set()
            await instances_task

        if esl.outbound is not None:  # runs after stop_instances, before esl.stop: the callers
            # still in a greeting or menu go back through the dialplan to a live instance (or hear
            # "please call later" from the switch when none is left); talking calls stay
            flow.instance_name = f"{settings.outbound_host}:{esl.outbound.port}"
            stack.push_async_callback(hand_off_calls, instances, esl.outbound)
        stack.push_async_callback(stop_instances)

        # tenants' directory, dialplan and configuration read from the store on every lookup
        providers = tenant_providers(settings, store.db, socket_address=instances.addresses)
        # gateway/trunk status: sofia::gateway_* events and a resync on every node (re)connect
        gateway_status = GatewayStatusWatcher(store.db, esl.nodes,
                                              reconcile_interval=settings.gateway_reconcile_interval)
        gateway_status.attach()
        stack.push_async_callback(gateway_status.close)
        jobs_health = None
        supervisor = None
        if settings.embedded_worker:  # the in-process worker and beat, restarted when they die
            from jobs.runner import EmbeddedSupervisor
            supervisor = EmbeddedSupervisor(settings, store=store, loop=loop)
        try:
            from jobs import health as jobs_health_mod
            jobs_health = jobs_health_mod.check
            if supervisor is not None:
                async def jobs_health():  # noqa: F811 — the check plus the embedded worker's state
                    result = await jobs_health_mod.check()
                    result["embedded"] = supervisor.state
                    return result
        except Exception as exc:  # jobs need Redis settings only; report and go on
            log.error("job health unavailable", error=str(exc))
        ctx = AppContext.create(settings, store, nodes=esl.nodes, jobs_health=jobs_health,
                                extra_routes=fs_config.routes(settings, providers)
                                + fs_config.cdr_routes(settings, esl.store_json_cdr))
        stack.push_async_callback(ctx.close)
        app = make_app(ctx)
        server = app.listen(settings.http_port, settings.http_host,
                            xheaders=settings.trusted_proxy)
        stack.callback(server.stop)
        # the same switch-facing routes (and /healthz) on the FreeSWITCH port, served by an event
        # loop of their own in their own thread: nothing the cabinet does makes them wait
        fs_server = await start_fs_server(settings, store, socket_address=instances.addresses,
                                          accept_cdr=call_in_loop(loop, esl.store_json_cdr))
        stack.push_async_callback(asyncio.to_thread, fs_server.stop)

        if supervisor is not None:
            supervisor_stop = asyncio.Event()
            supervisor_task = asyncio.create_task(supervisor.run(supervisor_stop))

            async def stop_supervisor() -> None:  # stops the worker and beat it runs
                supervisor_stop.set()
                await supervisor_task
            stack.push_async_callback(stop_supervisor)

        # the start-up heap out of the cyclic collector's full passes (pult/runtime.py: a full
        # pass over it stopped every thread for 76-347 ms on a busy machine, mid-call)
        from pult.runtime import settle_heap
        log.info("heap settled", frozen_objects=settle_heap())

        print(f"Pult is running at {settings.public_url}/", flush=True)
        print(f"  FreeSWITCH port (xml_curl, call records): http://{fs_server.host}:{fs_server.port}"
              f"{fs_config.PATH}", flush=True)
        if not settings.xml_curl_secret:  # generated at first start (fs_config.http)
            print(f"  mod_xml_curl secret generated in {(settings.data_dir / 'xml_curl_secret').resolve()}"
                  " — `pult freeswitch-vars` prints the FreeSWITCH snippet with it", flush=True)
        if banner:
            print(banner, flush=True)
        if ready is not None:
            ready.set()
        await stop.wait()
        log.info("shutting down")


async def start_fs_server(settings: Settings, store, **kw):
    """The FreeSWITCH-facing HTTP server (fs_config/server.py) on ``PULT_FS_HOST:PULT_FS_PORT``,
    started (its thread serving) — a port that cannot be listened on is an error naming it."""
    from fs_config.server import FS_SWITCH_INTERVAL, FsHttpServer, switch_routes

    # one GIL for the cabinet's loop, the store's threads and this server: let the server's thread
    # have it within 1 ms of asking rather than CPython's 5 ms (fs_config/server.py)
    sys.setswitchinterval(min(sys.getswitchinterval(), FS_SWITCH_INTERVAL))
    host = settings.fs_host or settings.http_host
    fs_server = FsHttpServer(switch_routes(settings, store, **kw), host=host, port=settings.fs_port)
    try:
        await asyncio.to_thread(fs_server.start)
    except OSError as exc:
        raise OSError(exc.errno, f"PULT_FS_PORT={settings.fs_port}: cannot listen on "
                                 f"{host}:{settings.fs_port} ({exc.strerror or exc})") from exc
    return fs_server


# --- users and demo --------------------------------------------------------------------------
def _generate_password() -> str:
    """A password that satisfies the cabinet policy (≥ 10 chars, a digit and a Latin letter)."""
    alphabet = string.ascii_letters + string.digits
    while True:
        pw = "".join(secrets.choice(alphabet) for _ in range(14))
        if any(c.isdigit() for c in pw) and any(c.isalpha() for c in pw):
            return pw


async def create_admin(settings: Settings, login: str, email: str, password: str) -> dict:
    from storage.client import open_store
    from storage.repos.users import create_operator_admin

    store = open_store(settings)
    try:
        await store.start()
        return await create_operator_admin(store, login, password, email)
    finally:
        await store.close()


async def seed_demo(settings: Settings, store=None) -> dict:
    """Create the demo account, PBX, operator and tenant admin once; return their logins.

    Generated passwords are kept (mode 0600) in ``<data_dir>/demo-logins.json`` so later runs
    can print them again — they are never stored in clear anywhere else.
    """
    from storage.client import open_store
    from storage.repos.base import Scope
    from storage.repos.tenants import Accounts, create_account, create_pbx
    from storage.repos.users import create_operator_admin, create_tenant_user

    creds_path = settings.data_dir / "demo-logins.json"
    own_store = store is None
    if own_store:
        store = open_store(settings)
        await store.start()
    try:
        await seed_demo_supplier(store.db)  # invoices need the operator's requisites (also on old demos)
        existing = await Accounts(store.db, Scope.platform()).find_one({"demo_seed": True})
        if existing and creds_path.exists():
            return json.loads(creds_path.read_text())
        account = existing or await create_account(
            store.db, DEMO_ACCOUNT_NAME, "accountant@romashka.example", demo_seed=True,
            requisites={"inn": "7701234567", "kpp": "770101001", "legal_name": "ООО «Ромашка»"})
        now = clock.now()
        pbx = await create_pbx(store.db, account["account_id"], "Ромашка", settings.sip_base_domain,
                               status="demo", demo_until=now + timedelta(days=14), demo_seed=True)
        from esl_control.model.bootstrap import ensure_pbx_defaults  # SIP domain, settings, group 6
        from esl_control.model.common import SYSTEM_ACTOR
        from esl_control.model.numbers.services import DidPoolService, NumberService

        await ensure_pbx_defaults(store.db, pbx["pbx_id"], base_domain=settings.sip_base_domain)
        from jobs.billing.tariffs import seed_default_tariff
        await seed_default_tariff(store.db)  # the default Russian tariff: demo calls get rated
        await DidPoolService(store.db, SYSTEM_ACTOR).add(DEMO_NUMBERS)
        await NumberService(store.db, pbx["pbx_id"], SYSTEM_ACTOR).assign_platform(
            DEMO_NUMBERS[0], "Главный номер (демо)")
        creds = {
            "operator": {"login": "operator", "password": _generate_password()},
            "tenant": {"login": f"{pbx['pbx_id']}/admin", "password": _generate_password()},
            "account_id": account["account_id"], "pbx_id": pbx["pbx_id"],
        }
        await create_operator_admin(store, "operator", creds["operator"]["password"],
                                    "operator@pult.local", display_name="Operator", language="en")
        await create_tenant_user(store, pbx["pbx_id"], "admin", creds["tenant"]["password"],
                                 "admin@romashka.example", display_name="Иван Петров",
                                 language="ru", account_id=account["account_id"])
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(creds_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(creds, f, ensure_ascii=False, indent=1)
        return creds
    finally:
        if own_store:
            await store.close()


async def seed_demo_supplier(db) -> bool:
    """The demo operator's requisites (the supplier on invoices and acts) unless the operator has
    entered any; True when seeded."""
    from jobs.billing.documents import DEMO_SUPPLIER
    from storage.repos.tenants import get_platform_settings, save_platform_settings

    if any((await get_platform_settings(db)).get("supplier", {}).values()):
        return False
    await save_platform_settings(db, {"supplier": dict(DEMO_SUPPLIER)})
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _credentials_banner(creds: dict, settings: Settings) -> str:
    return (f"  operator console : login {creds['operator']['login']!r}  "
            f"password {creds['operator']['password']!r}\n"
            f"  tenant cabinet   : login {creds['tenant']['login']!r}  "
            f"password {creds['tenant']['password']!r}  (PBX {creds['pbx_id']})\n"
            f"  data directory   : {settings.data_dir.resolve()}\n"
            f"  FreeSWITCH       : `pult freeswitch-vars` prints vars_pult.xml with the "
            f"mod_xml_curl secret")


async def demo(settings: Settings, simulator: bool) -> None:
    """Seed the demo and serve; optionally run the FreeSWITCH simulator as its own process."""
    creds = await seed_demo(settings)
    sim = None
    if simulator:
        sim_port = _free_port()
        if settings.outbound_port == 0:
            settings = settings.model_copy(update={"outbound_port": _free_port()})
        settings = settings.model_copy(update={"esl_nodes": f"sim=127.0.0.1:{sim_port}:ClueCon"})
        set_settings(settings)
    ready = asyncio.Event()
    task = asyncio.create_task(serve(settings, ready=ready,
                                     banner=_credentials_banner(creds, settings)))
    try:
        await asyncio.wait({task, asyncio.create_task(ready.wait())},
                           return_when=asyncio.FIRST_COMPLETED)
        if simulator and ready.is_set():
            repo_root = Path(__file__).resolve().parent.parent
            sim = subprocess.Popen(
                [sys.executable, "-m", "tests.fsim", "--port", str(sim_port),
                 "--outbound", f"{settings.outbound_host}:{settings.outbound_port}",
                 "--call-every", "15", "--hangup-after", "8",
                 "--var", f"pult_pbx_id={creds['pbx_id']}"],
                cwd=repo_root)
            print(f"  FreeSWITCH simulator (pid {sim.pid}) places a call every 15 s; "
                  f"watch them at {settings.public_url}/calls", flush=True)
        await task
    finally:
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()


# --- entry point -----------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pult", description="Pult — management plane for "
                                "FreeSWITCH virtual PBXs")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the server")
    w = sub.add_parser("worker", help="run a Celery worker")
    w.add_argument("-Q", "--queues", default=None, help="comma-separated queues (default: all)")
    w.add_argument("-c", "--concurrency", type=int, default=None)
    sub.add_parser("beat", help="run the Celery beat scheduler")
    a = sub.add_parser("create-admin", help="create an operator administrator")
    a.add_argument("login")
    a.add_argument("email")
    a.add_argument("--password", help="default: ask (or generate with --generate)")
    a.add_argument("--generate", action="store_true", help="generate and print a password")
    sub.add_parser("seed-demo", help="create the demo tenant and logins (idempotent)")
    d = sub.add_parser("demo", help="seed the demo tenant and serve")
    d.add_argument("--no-simulator", action="store_true",
                   help="do not start the FreeSWITCH simulator process")
    sub.add_parser("check-config", help="validate settings and print them")
    pr = sub.add_parser("prompts", help="the prompt set (esl_control/prompts)")
    prs = pr.add_subparsers(dest="prompts_command", required=True)
    g = prs.add_parser("generate", help="synthesize the default prompt set (only what is missing)")
    g.add_argument("--force", action="store_true", help="make every file again")
    prs.add_parser("check", help="check every prompt and say file (format, not silent)")
    f = sub.add_parser("freeswitch-vars", help="print vars_pult.xml for a FreeSWITCH node "
                       "(with the mod_xml_curl secret)")
    f.add_argument("--node", default=None, help="a node name of FREESWITCH_ESL (default: the first)")
    st = sub.add_parser("store", help="the embedded store's data")
    st_sub = st.add_subparsers(dest="store_command", required=True)
    ex = st_sub.add_parser("export", help="write the embedded store in mongodump's directory format "
                                          "(for mongorestore into MongoDB); stop the server first")
    ex.add_argument("dir", type=Path, help="output directory (DIR/<database>/<collection>.bson + .metadata.json)")
    return p


def prompts_command(settings: Settings, command: str, *, force: bool = False) -> int:
    """``pult prompts generate|check`` over ``settings.prompts_dir``."""
    from esl_control.prompts import LANGS, PromptSet
    from esl_control.prompts.generate import GenerateError, check_voice, generate

    prompts = PromptSet.from_settings(settings)
    if command == "generate":
        try:
            reports = generate(settings.prompts_dir, force=force)
        except GenerateError as exc:
            print(f"pult: prompts: {exc}", file=sys.stderr)
            return 1
        for r in reports:
            print(f"prompts {r.lang}: {r.voice_dir} — {r.made} made, {r.kept} already there"
                  + (f" ({r.engine})" if r.engine else ""))
    problems = [p for lang in LANGS for p in check_voice(prompts.generated_dir(lang), lang)]
    for line in problems:
        print(f"pult: prompts: {line}", file=sys.stderr)
    if command == "check":
        for lang in LANGS:
            print(f"prompts {lang}: sound_prefix {prompts.sound_prefix(lang)}")
        print(f"prompts: {len(problems)} problem(s)")
    return 1 if problems else 0


def store_export(settings: Settings, out_dir: Path) -> dict[str, int]:
    """``pult store export DIR``: the embedded store's collections for ``mongorestore DIR``."""
    from storage.embedded import EmbeddedEngine
    from storage.export import export_embedded

    if settings.mongo_url:
        raise SettingsError("the store is MongoDB already (MONGO_URL is set): use mongodump")
    engine = EmbeddedEngine(settings.data_dir)
    try:
        return export_embedded(engine, out_dir)
    finally:
        engine.close()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"pult: {exc}", file=sys.stderr)
        return 2
    set_settings(settings)
    setup_logging(settings.log_format, settings.log_level)
    setup_sentry(settings.sentry_dsn, f"pult-{args.command}")

    if args.command == "check-config":
        shown = settings.model_dump(mode="json")
        for key in list(shown):
            if any(s in key for s in ("password", "secret", "token", "dsn")) and shown[key]:
                shown[key] = "***"
        if shown.get("mongo_url") and "@" in shown["mongo_url"]:
            shown["mongo_url"] = "***"
        print(json.dumps(shown, indent=1, ensure_ascii=False))
        return 0
    if args.command == "prompts":
        return prompts_command(settings, args.prompts_command, force=getattr(args, "force", False))
    if args.command == "freeswitch-vars":
        from fs_config.snippet import freeswitch_vars
        try:
            print(freeswitch_vars(settings, args.node), end="")
        except (ValueError, OSError) as exc:
            print(f"pult: {exc}", file=sys.stderr)
            return 2
        return 0
    if args.command == "worker":
        from jobs.runner import run_worker
        return run_worker(settings, args.queues, concurrency=args.concurrency) or 0
    if args.command == "beat":
        from jobs.runner import run_beat
        run_beat(settings)
        return 0
    try:
        if args.command == "serve":
            asyncio.run(serve(settings))
        elif args.command == "demo":
            asyncio.run(demo(settings, simulator=not args.no_simulator))
        elif args.command == "store" and args.store_command == "export":
            written = store_export(settings, args.dir)
            for name, n in written.items():
                print(f"{name}: {n} documents")
            print(f"exported to {args.dir}; load into MongoDB with: mongorestore --uri \"$MONGO_URL\" {args.dir}")
        elif args.command == "seed-demo":
            creds = asyncio.run(seed_demo(settings))
            print(_credentials_banner(creds, settings))
        elif args.command == "create-admin":
            password = args.password
            if args.generate:
                password = _generate_password()
            elif not password:
                password = getpass.getpass("Password: ")
            user = asyncio.run(create_admin(settings, args.login, args.email, password))
            print(f"operator administrator {user['login']!r} created"
                  + (f" with password {password!r}" if args.generate else ""))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a clear message for what a user can fix, the trace in the log
        return _report(exc)
    return 0


def _report(exc: Exception) -> int:
    from storage.client import StoreUnavailable
    from storage.embedded import DataDirLocked

    known = (StoreUnavailable, DataDirLocked, OSError, SettingsError)
    message = getattr(exc, "message", None)
    if callable(message):
        print(f"pult: {message('en')}", file=sys.stderr)
        return 1
    if isinstance(exc, known) or type(exc).__name__ in ("UserError", "UserExists", "ScopeError"):
        print(f"pult: {exc}", file=sys.stderr)
        return 1
    log.exception("pult failed")
    print(f"pult: {type(exc).__name__}: {exc}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
