"""Run the simulator as its own process (for the demo).

    python -m tests.fsim --host 127.0.0.1 --port 8021 --password ClueCon \\
        --outbound 127.0.0.1:8084 --call-every 10

Listens like mod_event_socket, and every N seconds places a call (random
caller number) that runs ``socket <outbound> async full``; the caller hangs up
after ``--hangup-after`` seconds if the app flow has not ended the call.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal

from .server import FreeSwitchSimulator

log = logging.getLogger("fsim")


def _target(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {value!r}")
    return host, int(port)


def _assignment(value: str) -> tuple[str, str]:
    name, sep, val = value.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {value!r}")
    return name.strip(), val


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tests.fsim", description="FreeSWITCH Event Socket simulator")
    p.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8021, help="inbound ESL port (default 8021, 0 = free port)")
    p.add_argument("--password", default="ClueCon")
    p.add_argument("--outbound", type=_target, default=None, help="HOST:PORT of the outbound socket app")
    p.add_argument("--call-every", type=float, default=0.0, metavar="SECONDS",
                   help="place a call every SECONDS (0: never)")
    p.add_argument("--destination", default="74951234567", help="called number of the generated calls")
    p.add_argument("--hangup-after", type=float, default=20.0, metavar="SECONDS",
                   help="the caller hangs up after this many seconds unless the flow ended the call")
    p.add_argument("--dtmf", default="", help="digits the caller presses 2 s after the call starts")
    p.add_argument("--time-scale", type=float, default=1.0, help="1.0 = real time (default)")
    p.add_argument("--hostname", default="fsim", help="FreeSWITCH-Hostname in events")
    p.add_argument("--var", type=_assignment, action="append", default=[], metavar="NAME=VALUE",
                   help="channel variable every generated call carries (repeatable), e.g. pult_pbx_id=101")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


async def _one_call(sim: FreeSwitchSimulator, args: argparse.Namespace) -> None:
    caller = "79" + "".join(random.choice("0123456789") for _ in range(9))
    call = await sim.place_call(caller=caller, destination=args.destination, variables=dict(args.var))
    log.info("call %s from %s to %s started", call.uuid, caller, args.destination)
    if args.dtmf:
        await asyncio.sleep(2.0 * args.time_scale)
        if not call.channel.hungup:
            await call.send_dtmf(args.dtmf)
            log.info("call %s: caller pressed %s", call.uuid, args.dtmf)
    try:
        cause = await asyncio.wait_for(asyncio.shield(call.ended), args.hangup_after * args.time_scale)
        log.info("call %s ended by the flow: %s (billsec %s)", call.uuid, cause, call.variables.get("billsec"))
    except asyncio.TimeoutError:
        await call.hangup("NORMAL_CLEARING")
        cause = await call.wait_ended(10)
        log.info("call %s: caller hung up (%s, billsec %s)", call.uuid, cause, call.variables.get("billsec"))


async def run(args: argparse.Namespace) -> None:
    sim = FreeSwitchSimulator(args.password, args.outbound, host=args.host, time_scale=args.time_scale,
                              hostname=args.hostname, write_recordings=False)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except NotImplementedError:  # pragma: no cover - non-POSIX
            pass
    await sim.start(args.port)
    log.info("listening on %s:%s (password %s), outbound target %s", sim.host, sim.port,
             "*" * len(args.password), args.outbound)
    calls: set[asyncio.Task[None]] = set()
    try:
        while not stop.is_set():
            if args.call_every > 0 and args.outbound is not None:
                task = loop.create_task(_one_call(sim, args))
                calls.add(task)
                task.add_done_callback(calls.discard)
            try:
                await asyncio.wait_for(stop.wait(), args.call_every if args.call_every > 0 else None)
            except asyncio.TimeoutError:
                pass
    finally:
        for task in calls:
            task.cancel()
        await sim.stop()
        log.info("stopped")


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    if args.call_every > 0 and args.outbound is None:
        build_parser().error("--call-every needs --outbound HOST:PORT")
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
