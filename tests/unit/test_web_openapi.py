"""The OpenAPI document is generated from the route table: well-formed 3.1, every API route and
method present, every reference resolvable, and an undocumented endpoint is an error."""
from __future__ import annotations

import re

import pytest

from web.api_base import ApiHandler
from web.openapi import OpenApiError, build_openapi
from web.routes import RouteInfo, all_routes, to_pattern

METHODS = {"get", "post", "put", "patch", "delete"}


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_document_is_well_formed_openapi_3_1():
    doc = build_openapi(server_url="http://127.0.0.1:8080")
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["servers"] == [{"url": "http://127.0.0.1:8080"}]
    op_ids = []
    for path, item in doc["paths"].items():
        assert path.startswith("/api/v1/")
        params_in_path = set(re.findall(r"\{(\w+)\}", path))
        for method, op in item.items():
            assert method in METHODS
            op_ids.append(op["operationId"])
            assert op["summary"] and op["responses"]
            for status, resp in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d|default", status) and resp["description"]
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == params_in_path
            for p in op.get("parameters", []):
                assert p["in"] in ("query", "path") and "schema" in p
                if p["in"] == "path":
                    assert p["required"] is True
            assert op["security"] == [] if op["x-access"] == "public" else \
                op["security"] in ([{"sessionCookie": []}], [{"sessionCookie": []}, {"apiKey": []}],
                                   [{"sessionCookie": []}, {"apiKey": []}, {"integrationKey": []}])
            if {"apiKey": []} in op["security"]:  # a key's quota: 429 with Retry-After and the headers
                assert {"Retry-After", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"} <= \
                    set(op["responses"]["429"]["headers"])
            if {"integrationKey": []} in op["security"]:
                assert op["x-integration-capability"] == "payments" and path.endswith("/payments")
    assert len(op_ids) == len(set(op_ids))
    for ref in set(_refs(doc)):
        assert isinstance(_resolve(doc, ref), dict), ref
    err = doc["components"]["schemas"]["ErrorEnvelope"]
    assert err["required"] == ["error"]


def test_every_api_route_and_method_is_listed():
    doc = build_openapi()
    expected = {(r.path, m.lower()) for r in all_routes() if r.kind == "api" for m in r.methods}
    listed = {(p, m) for p, item in doc["paths"].items() for m in item}
    assert listed == expected
    assert ("/api/v1/calls", "get") in listed and ("/api/v1/sessions/{session_id}", "delete") in listed
    assert ("/api/v1/session", "post") in listed and ("/api/v1/nodes", "get") in listed


def test_schemas_come_from_the_models():
    doc = build_openapi()
    login = doc["paths"]["/api/v1/session"]["post"]
    body = _resolve(doc, login["requestBody"]["content"]["application/json"]["schema"]["$ref"])
    assert set(body["required"]) == {"login", "password"}
    assert body["additionalProperties"] is False
    calls = doc["paths"]["/api/v1/calls"]["get"]
    page = _resolve(doc, calls["responses"]["200"]["content"]["application/json"]["schema"]["$ref"])
    assert set(page["required"]) == {"items", "page", "per_page", "total"}
    assert {p["name"] for p in calls["parameters"]} == {"page", "per_page", "after", "pbx_id"}
    call = _resolve(doc, page["properties"]["items"]["items"]["$ref"])
    assert call["properties"]["start"]["anyOf"][0]["format"] == "date-time"
    assert doc["paths"]["/api/v1/nodes"]["get"]["x-access"] == "operator"
    assert "204" in doc["paths"]["/api/v1/session"]["delete"]["responses"]


def test_an_endpoint_without_an_operation_description_is_refused():
    class Undocumented(ApiHandler):
        async def get(self):
            self.reply({})

    info = RouteInfo("/api/v1/undocumented", to_pattern("/api/v1/undocumented"), Undocumented,
                     "user", kind="api")
    with pytest.raises(OpenApiError, match="Undocumented.get"):
        build_openapi([info])


def test_route_patterns_turn_placeholders_into_named_groups():
    pat = to_pattern("/api/v1/sessions/{session_id}", {"session_id": "[0-9a-f]+"})
    assert pat == "/api/v1/sessions/(?P<session_id>[0-9a-f]+)$"
    assert re.match(pat, "/api/v1/sessions/abc123").group("session_id") == "abc123"
    assert not re.match(pat, "/api/v1/sessions/../x")
    assert re.match(to_pattern("/api/v1/openapi.json"), "/api/v1/openapi.json")
    assert not re.match(to_pattern("/api/v1/openapi.json"), "/api/v1/openapiXjson")


def test_the_document_tells_the_truth_about_auth_partial_updates_and_errors():
    """Issue 9 item 5: the Bearer API keys that work are declared (not on operator or personal
    routes, where keys are refused); a PATCH that shares its model with a create documents no
    required field; outages (503 + Retry-After) and auth errors are documented everywhere."""
    doc = build_openapi()
    schemes = doc["components"]["securitySchemes"]
    assert schemes["apiKey"]["type"] == "http" and schemes["apiKey"]["scheme"] == "bearer"
    assert doc["paths"]["/api/v1/telephony/trunks"]["get"]["security"] == [{"sessionCookie": []}, {"apiKey": []}]
    assert doc["paths"]["/api/v1/sessions"]["get"]["security"] == [{"sessionCookie": []}]
    assert doc["paths"]["/api/v1/operator/accounts"]["get"]["security"] == [{"sessionCookie": []}]
    assert doc["paths"]["/api/v1/session"]["get"]["security"] == []
    patch = doc["paths"]["/api/v1/telephony/trunks/{id}"]["patch"]["requestBody"]["content"]["application/json"]
    post = doc["paths"]["/api/v1/telephony/trunks"]["post"]["requestBody"]["content"]["application/json"]
    assert _resolve(doc, post["schema"]["$ref"])["required"] == ["name", "host"]
    partial = _resolve(doc, patch["schema"]["$ref"])
    assert "required" not in partial and set(partial["properties"]) == set(_resolve(doc, post["schema"]["$ref"])["properties"])
    me = doc["paths"]["/api/v1/me"]["patch"]["requestBody"]["content"]["application/json"]["schema"]
    assert _resolve(doc, me["$ref"])["required"] == ["language"]  # its own model: truly required
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert "503" in op["responses"] and "Retry-After" in op["responses"]["503"]["headers"], (path, method)
            if op["security"]:
                assert {"401", "403"} <= set(op["responses"]), (path, method)
