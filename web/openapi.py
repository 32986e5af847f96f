"""The OpenAPI 3.1 document, generated from the route table.

Every ``kind == "api"`` route contributes its handler's methods; each method must carry an
:func:`web.api_base.operation` description (a missing one is an error, caught by the tests), and
its pydantic models become ``components/schemas``. So a new endpoint shows up in
``/api/v1/openapi.json`` by being registered, with nothing else to edit.
"""
from __future__ import annotations

import re
from http import HTTPStatus

from pydantic.json_schema import models_json_schema

from web.api_base import EXTRA_SCHEMAS, ErrorEnvelope
from web.routes import RouteInfo, all_routes

API_VERSION = "1"
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class OpenApiError(ValueError):
    """An API route cannot be described (e.g. a method without @operation)."""


def _operations(info: RouteInfo):
    for method in info.methods:
        fn = getattr(info.handler, method.lower())
        op = getattr(fn, "__openapi__", None)
        if op is None:
            raise OpenApiError(f"{info.handler.__qualname__}.{method.lower()} ({info.path}) has no "
                               "@operation description")
        yield method.lower(), op


#: errors any operation of an access kind can answer besides its own: not signed in, no right,
#: Redis or the job queue down (503 with Retry-After)
COMMON_ERRORS = {"public": {503}, "external": {503}, "user": {401, 403, 503}, "tenant": {401, 403, 503},
                 "operator": {401, 403, 503}}


#: the quota headers of every answer to a key (web/api_limits.py, IETF draft ratelimit-headers)
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"description": "Requests the key may make in the window", "schema": {"type": "string"}},
    "RateLimit-Remaining": {"description": "Requests left in the current window", "schema": {"type": "string"}},
    "RateLimit-Reset": {"description": "Seconds until the window starts again", "schema": {"type": "string"}},
    "RateLimit-Policy": {"description": "The quota policy, e.g. 600;w=60", "schema": {"type": "string"}},
}


def _security(info: RouteInfo) -> list[dict]:
    """Who may call: nobody needs to for public routes; API keys (tenant keys) work on tenant
    routes that are not personal; operators' and personal routes need the session."""
    if info.access in ("public", "external"):
        return []
    if info.access == "operator" or info.personal:
        return [{"sessionCookie": []}]
    return [{"sessionCookie": []}, {"apiKey": []}]


def _patch_variant(schemas: dict, body_ref: dict) -> dict:
    """``{"$ref": ...}`` of a copy of the referenced schema with no required properties (of a
    union, ``anyOf``/``oneOf``, each member's copy)."""
    name = body_ref["$ref"].rsplit("/", 1)[-1]
    schema = schemas.get(name, {})
    for key in ("anyOf", "oneOf"):
        if key in schema and all("$ref" in m for m in schema[key]):
            patch_name = f"{name}Patch"
            if patch_name not in schemas:
                schemas[patch_name] = {**{k: v for k, v in schema.items() if k not in (key, "discriminator")},
                                       "anyOf": [_patch_variant(schemas, m) for m in schema[key]],
                                       "title": f"{schema.get('title', name)} (partial update)"}
            return {"$ref": f"#/components/schemas/{patch_name}"}
    if not schema.get("required"):
        return body_ref
    patch_name = f"{name}Patch"
    if patch_name not in schemas:
        schemas[patch_name] = {k: v for k, v in schema.items() if k != "required"}
        schemas[patch_name]["title"] = f"{schema.get('title', name)} (partial update)"
    return {"$ref": f"#/components/schemas/{patch_name}"}


def build_openapi(routes: list[RouteInfo] | None = None, server_url: str | None = None) -> dict:
    """The OpenAPI document of every API route (all registered ones by default)."""
    routes = [r for r in (routes if routes is not None else all_routes()) if r.kind == "api"]
    models: dict[tuple[type, str], None] = {(ErrorEnvelope, "serialization"): None}
    ops = []
    for info in routes:
        for method, op in _operations(info):
            ops.append((info, method, op))
            if op.response is not None:
                models[(op.response, "serialization")] = None
            if op.request is not None:
                models[(op.request, "validation")] = None
    # a request model that also creates (POST/PUT) is documented for PATCH without "required":
    # a partial update sends only the fields it changes
    shared_with_create = {op.request for _info, method, op in ops if method in ("post", "put") and op.request}
    refs, defs = models_json_schema(list(models), ref_template="#/components/schemas/{model}")
    schemas = {**defs.get("$defs", {}), **EXTRA_SCHEMAS}

    def ref(model, mode):
        return refs[(model, mode)]

    error_ref = ref(ErrorEnvelope, "serialization")
    paths: dict[str, dict] = {}
    for info, method, op in ops:
        declared = {p.name for p in op.params if p.where == "path"}
        missing = set(_PLACEHOLDER.findall(info.path)) - declared
        if missing:
            raise OpenApiError(f"{info.path}: path parameter(s) {sorted(missing)} not declared")
        item: dict = {
            "operationId": f"{info.handler.__name__}_{method}",
            "summary": op.summary,
            "tags": list(op.tags),
            "x-access": info.access,
            "responses": {},
        }
        if op.description:
            item["description"] = op.description
        item.update(op.extensions)
        if op.params:
            item["parameters"] = [
                {"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                 "description": p.description, "schema": p.schema} for p in op.params]
        if op.request is not None:
            body_ref = ref(op.request, "validation")
            if method == "patch" and op.request in shared_with_create:
                body_ref = _patch_variant(schemas, body_ref)
            item["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": body_ref}}}
        elif op.request_content:  # an upload: its media types as the operation states them
            item["requestBody"] = {"required": True, "content": dict(op.request_content)}
        ok = {"description": HTTPStatus(op.status).phrase}
        if op.response is not None and op.status != 204:
            ok["content"] = {"application/json": {"schema": ref(op.response, "serialization")}}
        elif op.media_types:  # a download: the file's bytes
            ok["content"] = {t: {"schema": {"type": "string", "format": "binary"}} for t in op.media_types}
        item["responses"][str(op.status)] = ok
        for status in sorted(set(op.errors) | COMMON_ERRORS.get(info.access, set())):
            item["responses"][str(status)] = {
                "description": HTTPStatus(status).phrase,
                "content": {"application/json": {"schema": error_ref}}}
            if status == 503:
                item["responses"]["503"]["headers"] = {"Retry-After": {
                    "description": "Seconds to wait (Redis or the job queue is unavailable)",
                    "schema": {"type": "string"}}}
        item["responses"]["default"] = {
            "description": "Any other error, with the same envelope (e.g. 400 for a malformed request, "
                           "429 when rate-limited)",
            "content": {"application/json": {"schema": error_ref}}}
        item["security"] = _security(info)
        capability = getattr(getattr(info.handler, method), "__integration__", None)
        if capability is not None:  # web.enforce.integration: an operator's integration key too
            item["security"] = item["security"] + [{"integrationKey": []}]
            item["x-integration-capability"] = capability
        if any("apiKey" in s or "integrationKey" in s for s in item["security"]):
            item["responses"]["429"] = {
                "description": "Too many requests with this key (PULT_API_RATE_LIMIT): wait Retry-After seconds",
                "headers": {**RATE_LIMIT_HEADERS, "Retry-After": {
                    "description": "Seconds until the key's window starts again", "schema": {"type": "string"}}},
                "content": {"application/json": {"schema": error_ref}}}
            item["responses"]["default"] = item["responses"].pop("default")  # stays the last one
        paths.setdefault(info.path, {})[method] = item
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "Pult API", "version": API_VERSION,
                 "description": "Management API of the Pult virtual PBX platform. State-changing "
                                "calls made with the session cookie need the X-XSRFToken header."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "pult_session",
                                  "description": "The cabinet's session (POST /api/v1/session); "
                                                 "state-changing calls also need X-XSRFToken"},
                "apiKey": {"type": "http", "scheme": "bearer", "bearerFormat": "pult_<key id>_<secret>",
                           "description": "A PBX's API key (Integrations): Authorization: Bearer "
                                          "<secret>; acts with the key's role, from its allowed "
                                          "addresses; no CSRF token. Answers carry RateLimit-Limit, "
                                          "RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy; "
                                          "over the quota: 429 with Retry-After"},
                "integrationKey": {"type": "http", "scheme": "bearer",
                                   "bearerFormat": "pult_int_<key id>_<secret>",
                                   "description": "An operator's integration key (operator console, "
                                                  "Integration keys): Authorization: Bearer <secret>; opens "
                                                  "only the operations of its capabilities "
                                                  "(x-integration-capability), from its allowed addresses; "
                                                  "rate-limited like an API key"},
            },
        },
    }
    if server_url:
        doc["servers"] = [{"url": server_url}]
    return doc
