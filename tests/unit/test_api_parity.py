"""Issue 13: every capability of the cabinet is reachable over /api/v1 (web/api_parity.py).

The audit is mechanical: it walks the route table's pages and the actions their POST handlers
tell apart, and requires each to name the API operation that does the same — one that exists in
the OpenAPI document, that an API key may call when the page is a tenant's (not personal), and
that needs the same rights section — or to be declared cabinet-only with a reason.
"""
from __future__ import annotations

import pytest

from web.api_parity import PARITY, READ_BY_POST, CabinetOnly, page_actions, page_keys
from web.openapi import build_openapi
from web.routes import RouteInfo, all_routes


@pytest.fixture(scope="module")
def doc() -> dict:
    return build_openapi()


def _operations(doc: dict) -> dict[str, dict]:
    return {op["operationId"]: {**op, "method": m, "path": p}
            for p, item in doc["paths"].items() for m, op in item.items()}


def _api_routes() -> dict[str, RouteInfo]:
    return {f"{r.handler.__name__}_{m.lower()}": r for r in all_routes() if r.kind == "api" for m in r.methods}


def _pages() -> dict[str, RouteInfo]:
    return {r.path: r for r in all_routes() if r.kind == "page"}


def _split(key: str) -> tuple[str, str]:
    method, path = key.split(" ")[:2]
    return method, path


def test_every_page_and_page_action_has_an_api_counterpart_or_a_reason():
    keys = page_keys(all_routes())
    missing = [k for k in keys if k not in PARITY]
    assert not missing, ("pages or POST actions with no entry in web.api_parity.PARITY (name the API "
                         "operation that does the same, or CabinetOnly with a reason): " + "; ".join(missing))
    stale = sorted(set(PARITY) - set(keys))
    assert not stale, f"PARITY names pages or actions the route table does not have: {stale}"


def test_the_action_finder_sees_the_forms_actions():
    """The audit is only as good as the actions it finds: the known dispatching pages."""
    pages = _pages()
    assert page_actions(pages["/operator/pbxes/{pbx_id}"].handler) >= {
        ("action", a) for a in ("block", "unblock", "convert", "fees", "archive", "restore")}
    assert page_actions(pages["/account"].handler) == {("action", a) for a in
                                                       ("contacts", "requisites", "switch", "convert")}
    assert page_actions(pages["/telephony/numbers/add"].handler) == {
        ("kind", k) for k in ("platform", "passive_sip", "active_sip")}
    assert page_actions(pages["/integrations/webhooks/{id}"].handler) == {("action", "test"), ("action", "rotate")}
    assert page_actions(pages["/telephony/employees"].handler) == set()


def test_every_named_operation_exists_and_a_post_maps_to_a_change(doc):
    ops = _operations(doc)
    for key, target in PARITY.items():
        if isinstance(target, CabinetOnly):
            assert target.reason.strip(), f"{key}: a cabinet-only entry needs its reason"
            continue
        assert target, f"{key}: name at least one operation"
        unknown = [t for t in target if t not in ops]
        assert not unknown, f"{key}: no such operation in the OpenAPI document: {unknown}"
        if key in READ_BY_POST:
            assert READ_BY_POST[key].strip() and all(ops[t]["method"] == "get" for t in target), key
        elif key.startswith("POST "):
            assert any(ops[t]["method"] != "get" for t in target), f"{key}: a POST maps to reads only"


def test_a_tenant_page_s_counterpart_takes_an_api_key_and_the_same_rights(doc):
    """"With an API key": a PBX page that is not personal has an operation a key may call, and the
    operation asks for the rights section the page asks for (the same people may use either)."""
    ops, api, pages = _operations(doc), _api_routes(), _pages()
    for key, target in PARITY.items():
        if isinstance(target, CabinetOnly):
            continue
        page = pages[_split(key)[1]]
        if page.access not in ("user", "tenant") or page.personal:
            continue
        keyed = [t for t in target if any("apiKey" in s for s in ops[t]["security"])]
        assert keyed, f"{key}: none of {target} accepts an API key"
        if page.section:
            sections = {api[t].section for t in target}
            assert page.section in sections, f"{key} needs «{page.section}»; its operations need {sections}"


def test_operator_pages_map_to_operator_operations(doc):
    ops, pages = _operations(doc), _pages()
    for key, target in PARITY.items():
        page = pages[_split(key)[1]]
        if page.access == "operator" and not isinstance(target, CabinetOnly):
            assert all(ops[t]["x-access"] == "operator" for t in target), f"{key}: {target}"


def test_cabinet_only_is_the_exception():
    """Signing in, recovery, empty forms, confirmations and redirects — not what an integrator needs."""
    only = [k for k, v in PARITY.items() if isinstance(v, CabinetOnly)]
    changes = [k for k in only if k.startswith("POST ")]
    assert len(changes) <= 8, f"too many cabinet-only actions: {changes}"


def test_downloads_declare_the_types_of_their_files(doc):
    """"Every response": an operation answering with a file declares its content types."""
    ops = _operations(doc)
    for op_id, types in {"CallMediaFileApi_get": {"audio/wav", "image/tiff", "application/pdf"},
                         "SoundAudioApi_get": {"audio/mpeg", "audio/wav"},
                         "DocumentFileApi_get": {"application/pdf", "text/plain"},
                         "ActionLogExportApi_get": {"text/csv"}}.items():
        content = ops[op_id]["responses"]["200"]["content"]
        assert types <= set(content), (op_id, sorted(content))
        assert all(c["schema"] == {"type": "string", "format": "binary"} for c in content.values())
