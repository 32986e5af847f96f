"""``GET /api/v1/openapi.json`` — the generated OpenAPI document (see web/openapi.py)."""
from __future__ import annotations

import json

from web.api_base import ApiHandler
from web.routes import route


@route("/api/v1/openapi.json", access="public", kind="system", name="openapi")
class OpenApiHandler(ApiHandler):
    """Serves the document (built once per process: routes do not change at run time)."""

    async def prepare(self) -> None:  # no session needed to read the contract
        pass

    def get(self) -> None:
        cached = self.application.settings.get("openapi_json")
        if cached is None:
            from web.openapi import build_openapi

            cached = json.dumps(build_openapi(server_url=self.ctx.settings.public_url),
                                ensure_ascii=False)
            self.application.settings["openapi_json"] = cached
        self.set_header("Cache-Control", "public, max-age=300")
        self.finish(cached)
