"""xml_curl without back and forth: what a lookup reads from the store, and the directory cache.

- every directory, dialplan and configuration lookup reads each document once (reads counted on
  the store under the providers);
- a kept directory answer costs no read at all when the process's copy of the change counters is
  complete (the embedded store: one process owns it), else one read (the store's counters), and
  is never served after a write: a change made through the services — in this process, through
  another store object (another Pult process; with ``MONGO_URL`` a separate MongoDB client) or a
  worker's synchronous database — is in the very next answer of ``/fs/xml-curl``;
- with several Pult processes on one store each mechanism that tells a process of the others'
  writes: the store's counters (read on every lookup), and the Redis feed (no read while its
  subscription is live; the store's counters while it is not; a lost notice caught up by
  reconciling with the store).
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone

import pytest

from fs_config import NOT_FOUND_XML
from fs_config.tenant_providers import TenantDirectory, tenant_providers
from pult.clock import FixedClock, use_clock
from storage.client import open_store
from storage.repos.base import Scope
from storage.repos.tenants import Pbxes
from storage.change_feed import RedisChangeFeed
from storage.versions import COLLECTION, LocalVersions, VersionedDatabase
from tests.integration.test_provisioning_xml_curl import (ADMIN, DOMAIN_A, DOMAIN_B, dialplan_form,
                                                          directory_form, lookup, md5, params, tenants,
                                                          trace_form, user_of)
from tests.integration.test_xml_curl_http import SECRET, Server
from esl_control.model.crypto import SecretBox
from esl_control.model.employees.services import EmployeeService
from esl_control.model.pbx_settings.services import PbxSettingsService
from esl_control.model.sip.services import SipAccessService, SipAccountService, SipDomainService
from fs_config.request import XmlCurlRequest

__all__ = ["tenants"]  # the fixture, shared with test_provisioning_xml_curl


#: what a lookup of a kept answer reads when the process's copy of the counters is not complete:
#: the store's counters (the PBX and its balance are kept with theirs; only the clock is asked)
HIT = {COLLECTION}


class Reads:
    """Every read of the store under a database: (collection, ids of the documents returned)."""

    def __init__(self, hit: set | None = HIT):
        self.log: list[tuple[str, list]] = []
        #: the collections a lookup of a kept answer reads: nothing (the process's copy of the
        #: counters is complete), :data:`HIT` (it is not), or None: either (a Redis feed that
        #: may become live during the test, as a MongoDB store's)
        self.hit = hit

    def check_hit(self) -> None:
        got = {c for c, _ in self.log}
        if self.hit is None:
            assert got <= HIT, self.log
        else:
            assert got == self.hit, self.log

    def clear(self) -> None:
        self.log.clear()

    def queries(self) -> Counter:
        return Counter(c for c, _ in self.log)

    def documents(self) -> Counter:
        return Counter((c, i) for c, ids in self.log for i in ids)

    def twice(self) -> list:
        return [k for k, n in self.documents().items() if n > 1]


class _Cursor:
    def __init__(self, reads: Reads, name: str, cursor):
        self._reads, self._name, self._cursor = reads, name, cursor

    def sort(self, *a, **kw):
        self._cursor.sort(*a, **kw)
        return self

    def skip(self, n):
        self._cursor.skip(n)
        return self

    def limit(self, n):
        self._cursor.limit(n)
        return self

    async def to_list(self, length=None):
        docs = await self._cursor.to_list(length)
        self._reads.log.append((self._name, [d.get("_id") for d in docs]))
        return docs


class _Collection:
    def __init__(self, reads: Reads, coll):
        self._reads, self._coll = reads, coll

    def __getattr__(self, name):
        return getattr(self._coll, name)

    async def find_one(self, *a, **kw):
        doc = await self._coll.find_one(*a, **kw)
        self._reads.log.append((self._coll.name, [doc["_id"]] if doc else []))
        return doc

    def find(self, *a, **kw):
        return _Cursor(self._reads, self._coll.name, self._coll.find(*a, **kw))


class _Counting:
    def __init__(self, reads: Reads, raw):
        self._reads, self._raw = reads, raw

    def __getitem__(self, name):
        return _Collection(self._reads, self._raw[name])

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._raw, name)


def counted(store, local: LocalVersions | None = None) -> tuple[VersionedDatabase, Reads]:
    """The store's database with every read recorded (writes still bump the counters), with the
    process's copy of the counters (``store.versions``) or the one given (another process's)."""
    local = store.versions if local is None else local
    reads = Reads(set() if local.complete() else HIT if local.feed is None else None)
    return VersionedDatabase(_Counting(reads, store.db.raw), local=local), reads


def request(form: dict[str, str]) -> XmlCurlRequest:
    return XmlCurlRequest.from_fields(form)


# --- each document once ----------------------------------------------------------------------------
async def test_an_uncached_lookup_reads_each_document_once(tenants, store, settings):
    db, server, ids = tenants
    # a deputy, so the forward_to account is read too; the PBX restricted, so sip_access matters
    accounts = SipAccountService(db, 101, ADMIN)
    deputy = await accounts.create({"login": "deputy", "password": "Deputy123x"})
    await accounts.update(ids["ivanov"], {"login": "ivanov", "password": None, "employee_id": ids["employee"],
                                          "forward_to": deputy["id"]})
    await SipAccessService(db, 101, ADMIN).update({"mode": "restricted", "entries": ["10.*"]})
    cdb, reads = counted(store)
    directory = TenantDirectory(cdb, cache_size=0)
    assert not directory.cached

    text = await directory(request(directory_form("ivanov", DOMAIN_A)))
    _, user = user_of(text)
    assert params(user)["auth-acl"] == "10.0.0.0/8"
    assert params(user, "variables/variable")["pult_forward_to"] == f"deputy@{DOMAIN_A}"
    assert reads.twice() == []
    # the domain, the account, its employee, its deputy, the PBX's settings: one query each
    assert reads.queries() == Counter({"sip_domains": 1, "pbxes": 1, "balances": 1, "sip_accounts": 2,
                                       "employees": 1, "tel_settings": 1})

    reads.clear()  # an account without employee or deputy: no query for them
    assert user_of(await directory(request(directory_form("deputy", DOMAIN_A))))[1].get("id") == "deputy"
    assert reads.queries() == Counter({"sip_domains": 1, "pbxes": 1, "balances": 1, "sip_accounts": 1,
                                       "tel_settings": 1})

    reads.clear()  # by extension: the domain once (not once more to find the login)
    alias = directory_form("10", DOMAIN_A, action="user_call", key="number-alias")
    assert user_of(await directory(request(alias)))[1].get("id") == "ivanov"
    assert reads.twice() == []
    assert reads.queries()["sip_domains"] == 1 and reads.queries()["extensions"] == 1

    reads.clear()  # an unknown user: the domain and the accounts, nothing else
    assert await directory(request(directory_form("nobody", DOMAIN_A))) is None
    assert reads.queries() == Counter({"sip_domains": 1, "pbxes": 1, "balances": 1, "sip_accounts": 1,
                                       "tel_settings": 1})


async def test_dialplan_and_configuration_lookups_read_each_document_once(tenants, store, settings):
    db, server, ids = tenants
    cdb, reads = counted(store)
    providers = tenant_providers(settings, cdb, socket_address=("127.0.0.1", 18084),
                                 box=SecretBox.from_settings(settings))
    lookups = [
        ("dialplan", dialplan_form("public", "74957770000")),
        ("dialplan", dialplan_form("public", "73430000001", variable_sip_network_ip="10.0.0.1")),
        ("dialplan", dialplan_form("vpbx101", "10", variable_user_name="ivanov", variable_domain_name=DOMAIN_A)),
        ("dialplan", dialplan_form("public", "79990000000")),
        ("configuration", trace_form("configuration", "acl.conf")),
        ("configuration", dict(trace_form("configuration", "acl.conf"), key_value="sofia.conf")),
    ]
    for section, form in lookups:
        reads.clear()
        provider = getattr(providers, section)
        answer = await provider(request(form))
        assert answer is not None and answer != NOT_FOUND_XML, (section, form.get("key_value"))
        assert reads.twice() == [], (section, form.get("key_value"), reads.log)
        assert reads.log, "the lookup read the store"


# --- the cache: a hit costs the counters, any write is in the next answer -----------------------
def xml_curl_server(settings, db) -> Server:
    """The /fs/xml-curl application over ``db`` (its own directory cache), allowed from 127.0.0.0/8."""
    xml_settings = settings.model_copy(update={"xml_curl_secret": SECRET, "xml_curl_allow": "127.0.0.0/8"})
    return Server(xml_settings, tenant_providers(settings, db, socket_address=("127.0.0.1", 18084),
                                                 box=SecretBox.from_settings(settings)))


@pytest.fixture
async def counted_server(tenants, store, settings):
    """/fs/xml-curl over a counted view of the store (its own directory cache)."""
    db, _, ids = tenants
    cdb, reads = counted(store)
    server = xml_curl_server(settings, cdb)
    try:
        yield db, server, ids, reads
    finally:
        await server.close()




async def warm(server: Server, reads: Reads, form: dict[str, str]) -> str:
    """Look up until the answer is kept (the domain's PBX learnt, the answer built, the PBX's state
    read): the next identical lookup reads no directory document."""
    for _ in range(3):
        text = await lookup(server, form)
    reads.clear()
    assert await lookup(server, form) == text
    reads.check_hit()  # served from the cache
    return text


async def set_password(db, ids, password: str) -> None:
    """ivanov's SIP account gets ``password``, written through ``db`` (this process's or another's)."""
    await SipAccountService(db, 101, ADMIN).update(
        ids["ivanov"], {"login": "ivanov", "password": password, "employee_id": ids["employee"]})


async def answers_password(server: Server, form: dict[str, str], password: str) -> None:
    """The next directory answer for ivanov carries the digest hash of ``password``."""
    _, user = user_of(await lookup(server, form))
    assert params(user)["a1-hash"] == md5(f"ivanov:{DOMAIN_A}:{password}")


async def their_writes_are_in_the_next_answer(server: Server, reads: Reads, theirs, ids,
                                              password: str) -> tuple[dict[str, str], str]:
    """Another process (writing through ``theirs``) gives ivanov ``password``, then blocks and
    unblocks the account by its balance: each write is in this process's very next directory
    answer. The lookup's form and the answer kept at the end."""
    form = directory_form("ivanov", DOMAIN_A)
    await warm(server, reads, form)
    await set_password(theirs, ids, password)
    await answers_password(server, form, password)
    kept = await warm(server, reads, form)
    account_id = (await theirs["pbxes"].find_one({"pbx_id": 101}))["account_id"]
    await theirs["balances"].update_one({"account_id": account_id}, {"$set": {"balance": -1}}, upsert=True)
    assert await lookup(server, form) == NOT_FOUND_XML
    await theirs["balances"].update_one({"account_id": account_id}, {"$set": {"balance": 0}})
    assert await lookup(server, form) == kept
    return form, kept


async def test_a_kept_answer_costs_no_read_and_every_change_is_in_the_next_lookup(counted_server, store):
    db, server, ids, reads = counted_server
    if store.kind == "embedded":  # one process owns the store: its copy of the counters is complete
        assert reads.hit == set()
    form = directory_form("ivanov", DOMAIN_A)
    accounts, employees = SipAccountService(db, 101, ADMIN), EmployeeService(db, 101, ADMIN)

    await warm(server, reads, form)
    await set_password(db, ids, "Changed789z")
    await answers_password(server, form, "Changed789z")

    await warm(server, reads, form)
    await employees.update(ids["employee"], {"name": "Иванов-Петров", "extension": "11"})
    _, user = user_of(await lookup(server, form))
    assert params(user, "variables/variable")["effective_caller_id_name"] == "Иванов-Петров"
    assert user.get("number-alias") == "11"

    await warm(server, reads, form)
    await SipAccessService(db, 101, ADMIN).update({"mode": "restricted", "entries": ["10.*"]})
    assert params(user_of(await lookup(server, form))[1])["auth-acl"] == "10.0.0.0/8"

    await warm(server, reads, form)
    await PbxSettingsService(db, 101, ADMIN).update_section("sip_display", {"name": "login", "number": "login"})
    _, user = user_of(await lookup(server, form))
    assert params(user, "variables/variable")["effective_caller_id_name"] == "ivanov"
    assert params(user, "variables/variable")["effective_caller_id_number"] == "ivanov"

    # a user not there yet is "not found", kept, and found the moment the account exists
    new = directory_form("sidorov", DOMAIN_A)
    assert await warm(server, reads, new) == NOT_FOUND_XML
    created = await accounts.create({"login": "sidorov", "password": "Fresh1234a"})
    assert user_of(await lookup(server, new))[1].get("id") == "sidorov"
    await warm(server, reads, new)
    await accounts.delete(created["id"])
    assert await lookup(server, new) == NOT_FOUND_XML

    # a write to another PBX leaves this PBX's kept answers in place
    kept = await warm(server, reads, form)
    await SipAccountService(db, 202, ADMIN).create({"login": "kozlov", "password": "Other1234b"})
    reads.clear()
    assert await lookup(server, form) == kept
    reads.check_hit()


async def test_a_users_first_answer_is_kept(counted_server):
    """A phone's first lookup keeps its answer: the next one reads no directory document again
    (only the PBX and its balance, whether it is blocked, which are then kept too), the one after
    nothing. Before, the second lookup of a domain's first user was a whole read again."""
    db, server, ids, reads = counted_server
    form = directory_form("ivanov", DOMAIN_A)
    first = await lookup(server, form)
    assert user_of(first)[1].get("id") == "ivanov"
    reads.clear()
    assert await lookup(server, form) == first
    assert set(reads.queries()) <= {"pbxes", "balances"} | reads.hit, reads.log
    reads.clear()
    assert await lookup(server, form) == first
    reads.check_hit()
    # a domain that is not ours: one read of the domains, nothing kept, "not found"
    reads.clear()
    assert await lookup(server, directory_form("ivanov", "nobody.example")) == NOT_FOUND_XML
    assert reads.queries() == Counter({"sip_domains": 1})


async def test_a_moved_or_renamed_domain_is_answered_at_once(counted_server):
    db, server, ids, reads = counted_server
    old = directory_form("ivanov", DOMAIN_A)
    await warm(server, reads, old)
    domains = SipDomainService(db, 101, ADMIN, base_domain="pult.local")
    office = await domains.create({"name": "office1"})
    await SipAccountService(db, 101, ADMIN).update(ids["ivanov"], {
        "login": "ivanov", "password": "Moved1234c", "employee_id": ids["employee"], "domain_id": office["id"]})
    assert await lookup(server, old) == NOT_FOUND_XML  # moved: the old domain no longer answers for him
    moved = directory_form("ivanov", office["name"])
    _, user = user_of(await lookup(server, moved))
    assert params(user)["a1-hash"] == md5(f"ivanov:{office['name']}:Moved1234c")

    await warm(server, reads, moved)
    renamed = await domains.rename(office["id"], "headquarters")
    assert await lookup(server, moved) == NOT_FOUND_XML
    _, user = user_of(await lookup(server, directory_form("ivanov", renamed["name"])))
    assert params(user)["a1-hash"] == md5(f"ivanov:{renamed['name']}:Moved1234c")


async def test_a_blocked_pbx_write_through_a_raw_collection_renews_the_cache(counted_server):
    """A job writing the pbxes collection directly (jobs/lifecycle.py does) bumps the counter too;
    a block that ends by the clock ends for the kept answer too (no write happens then)."""
    db, server, ids, reads = counted_server
    form = directory_form("petrov", DOMAIN_B)
    kept = await warm(server, reads, form)
    with use_clock(FixedClock("2026-12-07T10:00:00Z")) as clock:
        until = datetime(2026, 12, 7, 11, 0, tzinfo=timezone.utc)
        await db["pbxes"].update_one({"pbx_id": 202}, {"$set": {"operator_block": {"reason": "test", "until": until}}})
        assert await lookup(server, form) == NOT_FOUND_XML
        assert await lookup(server, form) == NOT_FOUND_XML
        clock.advance(hours=2)  # the block is over: the very next lookup serves him again
        assert await lookup(server, form) == kept
        kept_again = await warm(server, reads, form)
        clock.set("2026-12-07T10:30:00Z")  # a kept answer is not served while the PBX is blocked
        assert await lookup(server, form) == NOT_FOUND_XML
        clock.advance(hours=1)
        assert await lookup(server, form) == kept_again


async def test_a_write_from_another_process_is_in_the_next_answer(counted_server, store):
    """Another Pult process (its own store object: with MONGO_URL its own MongoDB client) and a
    worker's synchronous database: the counters are in the store, so their writes renew this
    process's kept answers on its very next lookup."""
    db, server, ids, reads = counted_server
    form = directory_form("ivanov", DOMAIN_A)
    other = open_store(store.settings)
    try:
        assert other.db is not store.db
        await warm(server, reads, form)
        await set_password(other.db, ids, "Elsewhere1a")
        await answers_password(server, form, "Elsewhere1a")

        await warm(server, reads, form)
        other.sync_db["employees"].update_one({"_id": ids["employee"], "pbx_id": 101}, {"$set": {"name": "Worker"}})
        _, user = user_of(await lookup(server, form))
        assert params(user, "variables/variable")["effective_caller_id_name"] == "Worker"
    finally:
        await other.close()


async def test_without_counting_writes_nothing_is_kept(tenants, store):
    """A database whose writes do not bump the counters cannot tell a stale answer: no cache."""
    db, server, ids = tenants
    raw = store.db.raw
    directory = TenantDirectory(raw)
    assert not directory.cached
    form = directory_form("ivanov", DOMAIN_A)
    await directory(request(form))
    await raw["sip_accounts"].update_one({"_id": ids["ivanov"]}, {"$set": {"a1_hash": "0" * 32}})
    assert params(user_of(await directory(request(form)))[1])["a1-hash"] == "0" * 32


async def test_the_pbx_document_itself_is_watched(tenants, store):
    db, server, ids = tenants
    before = await store.db.raw[COLLECTION].find_one({"_id": 101})
    await Pbxes(db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"name": "Renamed"}})
    after = await store.db.raw[COLLECTION].find_one({"_id": 101})
    assert after["v"] == (before or {}).get("v", 0) + 1


async def test_a_balance_below_zero_and_a_top_up_are_in_the_next_lookup(counted_server, store):
    """Whether the PBX is blocked is kept with the counters of its account's balance: a charge that
    takes the balance below zero refuses the phones on the very next lookup, a payment lets them
    in again on the next one; other accounts' postings keep it."""
    from jobs.billing.ledger import charge, record_payment
    from storage.repos.tenants import get_pbx

    db, server, ids, reads = counted_server
    form = directory_form("ivanov", DOMAIN_A)
    account_id = (await get_pbx(db, 101))["account_id"]
    other_account = (await get_pbx(db, 202))["account_id"]
    kept = await warm(server, reads, form)
    await record_payment(db, other_account, 100, key="other-pay")
    reads.clear()
    assert await lookup(server, form) == kept
    reads.check_hit()  # another account's balance: nothing read again

    await charge(db, account_id, 500, key="fee-1")
    assert await lookup(server, form) == NOT_FOUND_XML
    assert await lookup(server, form) == NOT_FOUND_XML
    await record_payment(db, account_id, 1000, key="pay-1")
    assert await lookup(server, form) == kept
    assert await warm(server, reads, form) == kept


def other_process(store) -> tuple[VersionedDatabase, LocalVersions]:
    """A Pult process of its own on the same store: its own copy of the counters (not complete)."""
    local = LocalVersions()
    return VersionedDatabase(store.db.raw, local=local), local


async def test_several_processes_on_the_store_counters(tenants, store, settings):
    """Mechanism 1 — the store's counters: a process without a live feed reads them on every
    lookup (one read), so another process's write is in its very next answer."""
    db, _, ids = tenants
    mine, _ = other_process(store)
    theirs, _ = other_process(store)
    cdb, reads = counted(store, local=mine.local)
    assert reads.hit == {COLLECTION}
    server = xml_curl_server(settings, cdb)
    try:
        await their_writes_are_in_the_next_answer(server, reads, theirs, ids, "Theirs1234a")
    finally:
        await server.close()


@pytest.fixture
def redis_url():
    from jobs.testing import TEST_REDIS_BASE
    return f"{TEST_REDIS_BASE}/12"


async def live(feed: RedisChangeFeed) -> None:
    """Wait until the feed's subscription is live (it connects in its own thread)."""
    import asyncio
    for _ in range(500):
        if feed.poll():
            return
        await asyncio.sleep(0.01)
    pytest.fail("the change feed did not subscribe to the test Redis")


async def test_several_processes_on_the_redis_feed(tenants, store, settings, redis_url):
    """Mechanism 2 — the Redis feed: while its subscription is live a process reads nothing for a
    kept answer, and another process's write (published before its write call returned) is in its
    very next answer; with the subscription lost it reads the store's counters, and a notice that
    was never published is caught up by reconciling with the store."""
    import uuid
    db, _, ids = tenants
    channel = f"test:change_versions:{uuid.uuid4().hex}"
    mine_local, theirs_local = LocalVersions(), LocalVersions()
    mine_feed = RedisChangeFeed(mine_local, redis_url, channel=channel, sync_db=store.sync_db.raw,
                                reconcile_seconds=3600).attach()
    theirs_feed = RedisChangeFeed(theirs_local, redis_url, channel=channel, reconcile_seconds=3600).attach()
    theirs = VersionedDatabase(store.db.raw, local=theirs_local)
    server = None
    try:
        await live(mine_feed)
        cdb, reads = counted(store, local=mine_local)
        assert reads.hit == set()  # the feed is live: the process's copy is complete
        server = xml_curl_server(settings, cdb)
        form, kept = await their_writes_are_in_the_next_answer(server, reads, theirs, ids, "Published1a")

        # the subscription lost: the store's counters are read, and a write is still in the next answer
        epoch = mine_local.epoch
        mine_feed._pubsub.connection.disconnect()
        reads.clear()
        await set_password(theirs, ids, "WhileDown1a")
        await answers_password(server, form, "WhileDown1a")
        assert COLLECTION in {c for c, _ in reads.log}
        await live(mine_feed)  # subscribed again: a new epoch, nothing kept from before is served
        assert mine_local.epoch > epoch
        kept = await warm(server, reads, form)

        # a write whose notice was never published (the writer's Redis failed) is caught up by
        # reconciling with the store's counters
        mine_feed.reconcile()  # the first look
        theirs_local.on_local_write.remove(theirs_feed.publish)
        await set_password(theirs, ids, "Unpublished1")
        assert await lookup(server, form) == kept  # no notice came: the kept answer, until reconciled
        mine_feed.reconcile()
        await answers_password(server, form, "Unpublished1")
    finally:
        if server is not None:
            await server.close()
        mine_feed.close()
        theirs_feed.close()


async def test_a_calls_dialplan_keeps_whether_its_pbx_is_blocked_until_it_changes(counted_server):
    """The dialplan asks whether the calling PBX is blocked on every call: the PBX and its balance
    are kept with their counters (shared with the directory), so a repeated call reads neither,
    and a block — by the operator or by the balance — refuses the PBX's own next call."""
    from storage.repos.tenants import get_pbx

    db, server, ids, reads = counted_server
    own_call = dialplan_form("vpbx101", "10", variable_user_name="ivanov", variable_domain_name=DOMAIN_A)

    def routed(text: str) -> bool:
        return "pult_pbx_id=101" in text and 'application="socket"' in text

    for _ in range(2):
        assert routed(await lookup(server, own_call))
    reads.clear()
    assert routed(await lookup(server, own_call))
    assert not {"pbxes", "balances"} & {c for c, _ in reads.log}, reads.log

    account_id = (await get_pbx(db, 101))["account_id"]
    await db["balances"].update_one({"account_id": account_id}, {"$set": {"balance": -1}}, upsert=True)
    assert not routed(await lookup(server, own_call))  # the balance below zero: refused at once
    await db["balances"].update_one({"account_id": account_id}, {"$set": {"balance": 0}})
    assert routed(await lookup(server, own_call))
    await Pbxes(db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"operator_block": {"until": None}}})
    assert not routed(await lookup(server, own_call))
    await Pbxes(db, Scope.platform()).update_one({"pbx_id": 101}, {"$set": {"operator_block": None}})
    assert routed(await lookup(server, own_call))
