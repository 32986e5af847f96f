"""The simulator's pytest fixtures work (imported directly here; see tests/fsim/pytest_plugin.py)."""

from tests.fsim.client import EslTestClient
from tests.fsim.pytest_plugin import fsim, fsim_factory  # noqa: F401  (fixtures)


async def test_fsim_fixture_accepts_clients(fsim):  # noqa: F811
    client = await EslTestClient.connect(fsim.host, fsim.port)
    assert (await client.auth()).headers["Reply-Text"] == "+OK accepted"
    assert (await client.api("version")).startswith("FreeSWITCH Version 1.10.12-release")
    await client.close()


async def test_fsim_factory_uses_given_password(fsim_factory):  # noqa: F811
    sim = await fsim_factory(password="s3cret")
    client = await EslTestClient.connect(sim.host, sim.port)
    assert (await client.auth("s3cret")).headers["Reply-Text"] == "+OK accepted"
    await client.close()
