"""A property-based run over the OpenAPI document (issue 9 item 5): schemathesis generates
requests for every operation from its schema — examples first, then random and boundary data —
and sends them to a real server, once with a tenant administrator's API key and once as the
platform operator (session cookie + CSRF token). Every answer must be a non-5xx whose status,
content type, headers and body conform to what the document says, and a request the document
allows must not be refused as invalid (positive_data_acceptance; the few operations whose rules the
document cannot state are listed, with the reason, in schemathesis.toml).

The run's stack is what a deployment has: the operator's requisites entered (as the demo seeds
them: invoices, receipts and acts print them), a job queue (the test Redis) to take the documents
to render, and its own clock — started on a fixed day that is not the 1st of a month (call detail is
refused on the 1st), so the outcome never depends on the date the run happens on; the hooks read
the shift (``PULT_FUZZ_CLOCK_SHIFT``) for the rules relative to now and today.

Bounded to fit CI (a few examples per operation, a fixed seed so a failure reproduces; set
``PULT_FUZZ_SEED`` to explore another part of the input space, ``PULT_FUZZ_EXAMPLES`` for more
per operation, ``PULT_FUZZ_INCLUDE`` — a regex of "METHOD /path" names — to run only those
operations). The calls that would end the run's own session are left out.
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import pytest_asyncio

from jobs.billing.documents import DEMO_SUPPLIER
from jobs.testing import TEST_REDIS_URL, cleanup, configure_for_tests
from pult.clock import Clock, use_clock
from storage.repos.tenants import save_platform_settings
from storage.repos.users import create_operator_admin
from tests.integration.tel_api_harness import tel_stack
from web.testing import WebClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

SEED = os.environ.get("PULT_FUZZ_SEED", "9")
EXAMPLES = os.environ.get("PULT_FUZZ_EXAMPLES", "3")
HERE = Path(__file__).resolve().parent
# the checks and the few operations exempt from positive_data_acceptance (each with its reason)
CONFIG = HERE / "schemathesis.toml"
# signing out, ending the own session or changing the own password would end the run's login
EXCLUDE = r"^/api/v1/(session|sessions/\{session_id\}|me/password)$"
CLI = Path(sys.executable).with_name("schemathesis")


#: when the run's clock starts: the 15th, 10:00 UTC — the 15th from UTC-10 to UTC+13 (every Russian
#: zone), so a run of an hour or less never meets the 1st of a month in an account's time zone
START = datetime(2026, 6, 15, 10, 0, tzinfo=timezone.utc)


class RunClock(Clock):
    """The machine's clock moved back or forth by a fixed shift: it reads :data:`START` when the
    stack starts and runs on from there (time passes as it does: expiries and windows work)."""

    def __init__(self, start: datetime) -> None:
        self.shift = start - datetime.now(timezone.utc)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def st():
    # the run exercises the operations, not a key's quota (tests/integration/test_api_rate_limits.py
    # does): a quota above the run's request count, so no answer is a 429 of the default 600/minute
    # webhook targets: the run's own server (fuzz_hooks.py, x-pult-local-url), never the internet
    # jobs (documents to render, mail, webhook tests) queue on the test Redis under the run's own
    # prefix, removed afterwards; no worker runs them
    with use_clock(RunClock(START)) as run_clock:
        async with tel_stack(api_rate_limit="1000000/minute", webhook_allow_private=True, webhook_timeout=2,
                             redis_url=TEST_REDIS_URL) as stack:
            prefix = configure_for_tests(stack.ctx.settings)
            try:
                # the operator's requisites, as `pult seed-demo` enters them (invoices, receipts and
                # acts print them; without them a document is a 409, pinned by test_finance_flows)
                await save_platform_settings(stack.db, {"supplier": dict(DEMO_SUPPLIER)})
                stack.clock_shift = run_clock.shift
                yield stack
            finally:
                cleanup(prefix)


async def _run(url: str, shift: timedelta, *headers: str) -> tuple[int, str]:
    args = [str(CLI), "--config-file", str(CONFIG), "run", f"{url}/api/v1/openapi.json",
            "--phases", "examples,fuzzing", "--max-examples", EXAMPLES, "--seed", SEED,
            "--workers", "2", "--exclude-path-regex", EXCLUDE, "--suppress-health-check", "all",
            "--no-color"]
    if os.environ.get("PULT_FUZZ_INCLUDE"):
        args += ["--include-name-regex", os.environ["PULT_FUZZ_INCLUDE"]]
    for h in headers:
        args += ["-H", h]
    with tempfile.TemporaryDirectory(prefix="pult-fuzz-") as cwd:  # its cache stays out of the tree
        proc = await asyncio.create_subprocess_exec(*args, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT, cwd=cwd,
                                                    env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false",
                                                         # page cursors the server can read (fuzz_hooks.py)
                                                         "SCHEMATHESIS_HOOKS": "tests.integration.fuzz_hooks",
                                                         # the receiver of webhook tests and deliveries
                                                         "PULT_FUZZ_LOCAL_URL": f"{url}/healthz",
                                                         # the server's clock (x-pult-future, x-pult-from-today)
                                                         "PULT_FUZZ_CLOCK_SHIFT": str(shift.total_seconds()),
                                                         "PYTHONPATH": os.pathsep.join(
                                                             filter(None, [str(HERE.parent.parent),
                                                                           os.environ.get("PYTHONPATH")]))})
        out, _ = await asyncio.wait_for(proc.communicate(), 600)
    return proc.returncode, out.decode("utf-8", "replace")


def _summary(out: str) -> str:
    return out[out.find("=" * 20):] if "=" * 20 in out else out[-6000:]


async def _authenticated(url: str, path: str, headers: dict) -> bool:
    """The run's credentials work (before the run, and still after it)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as c:
        return (await c.get(path)).status_code == 200


async def test_every_answer_conforms_with_a_tenants_api_key(st):
    key = await st.api_key()
    auth = {"Authorization": f"Bearer {key}"}
    assert await _authenticated(st.url, "/api/v1/telephony/trunks", auth)
    code, out = await _run(st.url, st.clock_shift, f"Authorization: Bearer {key}")
    assert code == 0 and "generated" in out, _summary(out)
    assert await _authenticated(st.url, "/api/v1/telephony/trunks", auth)


async def test_every_answer_conforms_for_the_operator(st):
    await create_operator_admin(st.store, "fuzz-root", "operator-pass-1", "root@fuzz.example", language="en")
    async with WebClient(st.url) as op:
        await op.login("fuzz-root", "operator-pass-1")
        session, xsrf = op.cookies.get("pult_session"), op.xsrf_cookie()
    cookie = f"pult_session={session}; _xsrf={xsrf}"
    assert await _authenticated(st.url, "/api/v1/operator/accounts", {"Cookie": cookie})
    code, out = await _run(st.url, st.clock_shift, f"Cookie: {cookie}", f"X-XSRFToken: {xsrf}")
    assert code == 0 and "generated" in out, _summary(out)
    assert await _authenticated(st.url, "/api/v1/operator/accounts", {"Cookie": cookie})
