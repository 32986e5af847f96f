"""``GET /api/v1/docs`` — the API reference: the OpenAPI document (web/openapi.py) as a readable page.

Rendered on the server from the same document ``/api/v1/openapi.json`` serves, so the two cannot
disagree: every operation grouped by tag (method, path, summary, who may call it, parameters,
request body, responses with their headers), every schema with its fields and constraints, the
authentication schemes and rate limits. Only the page's own stylesheet is loaded (from
``/static/``): no script, no CDN, nothing from another host (the CSP forbids it anyway).
The page's words follow the reader's language; the document's texts are English.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pult.i18n import N_
from web.handlers import BaseHandler
from web.routes import route

METHOD_ORDER = ("get", "post", "put", "patch", "delete", "head", "options")
ACCESS_TITLES = {"public": N_("Anyone"), "user": N_("Any signed-in user (data of their own PBX or account)"),
                 "tenant": N_("PBX users and the PBX's API keys"), "operator": N_("Platform operators only")}
SCHEME_TITLES = {"sessionCookie": N_("Cabinet session"), "apiKey": N_("PBX API key"),
                 "integrationKey": N_("Operator integration key")}
UNTAGGED = "other"


@dataclass
class TypeRef:
    """A schema's type as text pieces, each optionally linking to a component schema."""

    parts: list[tuple[str, str | None]] = field(default_factory=list)

    def add(self, text: str, schema: str | None = None) -> "TypeRef":
        self.parts.append((text, schema))
        return self


def inline(text: str | None) -> list[tuple[str, bool]]:
    """A description as pieces, ``True`` for the ones written in `backticks` (shown as code)."""
    parts = (text or "").split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick: plain text
        return [(text or "", False)] if text else []
    return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def type_of(schema: dict | None) -> TypeRef:
    """``string``, ``integer (int64)``, ``array of <Schema>``, ``string | null``, ``"a" | "b"``…"""
    out = TypeRef()
    schema = schema or {}
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return out.add(name, name)
    for combo in ("anyOf", "oneOf", "allOf"):
        if combo in schema:
            for i, sub in enumerate(schema[combo]):
                if i:
                    out.add(" | " if combo != "allOf" else " & ")
                out.parts += type_of(sub).parts
            return out
    if "const" in schema:
        return out.add(repr(schema["const"]).replace("'", '"'))
    if "enum" in schema:
        return out.add(" | ".join(repr(v).replace("'", '"') for v in schema["enum"]))
    kind = schema.get("type")
    if isinstance(kind, list):
        return out.add(" | ".join(kind))
    if kind == "array":
        out.add("array of ")
        out.parts += type_of(schema.get("items")).parts
        return out
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        out.add("object of ")
        out.parts += type_of(schema["additionalProperties"]).parts
        return out
    text = kind or "any"
    if schema.get("format"):
        text += f" ({schema['format']})"
    return out.add(text)


CONSTRAINTS = (("minLength", "min length"), ("maxLength", "max length"), ("minimum", "≥"),
               ("maximum", "≤"), ("exclusiveMinimum", ">"), ("exclusiveMaximum", "<"),
               ("minItems", "min items"), ("maxItems", "max items"), ("pattern", "pattern"),
               ("default", "default"))


def constraints_of(schema: dict | None) -> list[str]:
    """The validation rules of a field, as short texts (``max length 100``, ``≥ 1``…)."""
    schema = schema or {}
    out = []
    for key, label in CONSTRAINTS:
        if key in schema:
            value = schema[key]
            out.append(f"{label} {value!r}" if isinstance(value, str) and key != "pattern" else
                       f"{label} {value}" if key != "default" or value is not None else "default null")
    for combo in ("anyOf", "oneOf"):
        for sub in schema.get(combo, []):
            out += [c for c in constraints_of(sub) if c not in out]
    if schema.get("additionalProperties") is False:
        out.append("no other fields")
    return out


def fields_of(schema: dict) -> list[dict]:
    """The properties of an object schema: name, type, required, description, constraints."""
    required = set(schema.get("required") or [])
    rows = []
    for name, prop in (schema.get("properties") or {}).items():
        rows.append({"name": name, "type": type_of(prop), "required": name in required,
                     "description": inline(prop.get("description")), "constraints": constraints_of(prop),
                     "title": prop.get("title") or ""})
    return rows


def reference(doc: dict) -> dict:
    """The page's view of the document: tags with their operations, schemas, security schemes."""
    groups: dict[str, list[dict]] = {}
    for path, item in doc.get("paths", {}).items():
        for method in sorted(item, key=lambda m: METHOD_ORDER.index(m) if m in METHOD_ORDER else 99):
            op = item[method]
            content = (op.get("requestBody") or {}).get("content", {})
            # JSON, or else the first media type the operation takes (an upload's form)
            body_type = "application/json" if "application/json" in content else next(iter(content), None)
            body = content.get(body_type, {}).get("schema") if body_type else None
            responses = []
            for status, resp in op.get("responses", {}).items():
                schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
                content_types = sorted((resp.get("content") or {}).keys())
                responses.append({"status": status, "description": resp.get("description") or "",
                                  "type": type_of(schema) if schema else None, "content_types": content_types,
                                  "headers": [(h, (v or {}).get("description") or "")
                                              for h, v in (resp.get("headers") or {}).items()]})
            entry = {
                "id": op["operationId"], "method": method.upper(), "path": path,
                "summary": op.get("summary") or "", "description": inline(op.get("description")),
                "access": op.get("x-access") or "", "capability": op.get("x-integration-capability"),
                "security": [name for req in op.get("security") or [] for name in req],
                "params": [{"name": p["name"], "in": p["in"], "required": bool(p.get("required")),
                            "type": type_of(p.get("schema")), "description": inline(p.get("description")),
                            "constraints": constraints_of(p.get("schema"))} for p in op.get("parameters") or []],
                "body": type_of(body) if body else None,
                "body_types": list(content) if body else [],
                "body_fields": fields_of(doc["components"]["schemas"][_ref_name(body["$ref"])])
                if body and "$ref" in body else fields_of(body) if body else [],
                "responses": responses,
            }
            for tag in op.get("tags") or [UNTAGGED]:
                groups.setdefault(tag, []).append(entry)
    schemas = [{"name": name, "title": s.get("title") or name, "description": inline(s.get("description")),
                "type": type_of({k: v for k, v in s.items() if k not in ("title", "description")})
                if "properties" not in s else None,
                "fields": fields_of(s)} for name, s in sorted(doc["components"]["schemas"].items())]
    schemes = [{"name": name, "title": SCHEME_TITLES.get(name, name), "description": inline(s.get("description")),
                "how": (f"{s.get('scheme', '').capitalize()} {s.get('bearerFormat', '')}".strip()
                        if s.get("type") == "http" else f"{s.get('in', '')} {s.get('name', '')}".strip())}
               for name, s in doc["components"].get("securitySchemes", {}).items()]
    return {"info": doc.get("info", {}), "tags": sorted(groups.items()), "schemas": schemas, "schemes": schemes,
            "count": sum(len(v) for v in groups.values())}


@route("/api/v1/docs", access="public", kind="system", name="api_docs")
class ApiDocsPage(BaseHandler):
    """The reference page (built once per process and language: routes do not change at run time)."""

    async def prepare(self) -> None:  # the contract is public: no session needed to read it
        pass

    def get(self) -> None:
        from web.openapi import build_openapi

        cache = self.application.settings.setdefault("api_docs_model", {})
        if "model" not in cache:
            cache["model"] = reference(build_openapi(server_url=self.ctx.settings.public_url))
        self.set_header("Cache-Control", "public, max-age=300")
        self.render("api_docs.html", ref=cache["model"], access_titles=ACCESS_TITLES, lang=self.lang)

    def render_error(self, status: int, code: str, message: str, fields: dict) -> None:
        self.set_header("Content-Type", "text/plain; charset=UTF-8")
        self.finish(message)
