"""The route table: every URL the server answers, with its handler and who may use it.

Handlers register themselves with :func:`route`::

    @route("/calls", access="user", name="calls")
    class CallsPage(PageHandler): ...

    @route("/api/v1/calls/{uuid}", access="user")
    class CallApi(ApiHandler): ...

``{name}`` placeholders become named regex groups (``[^/]+``, or the pattern given in
``params``) passed to the handler method as keyword arguments; the OpenAPI document shows them as
path parameters. The decorator also sets the handler's ``access`` attribute, which the base
handler enforces — the table and the enforcement cannot drift apart.

Access levels: ``public`` (anyone), ``user`` (any signed-in user; data is scoped by the user),
``operator`` (platform staff only), ``tenant`` (tenant users only), ``external`` (mounted from
another package via ``AppContext.extra_routes``; it does its own authentication).

:func:`all_routes` lists everything — the isolation tests iterate it.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

ACCESS_LEVELS = ("public", "user", "operator", "tenant", "external")

# modules that define routes; imported on demand so registration order is deterministic
HANDLER_MODULES = (
    "web.health", "web.pages.auth", "web.pages.cabinet", "web.api.session", "web.api.me",
    "web.api.nodes", "web.api.calls", "web.api.openapi", "web.api.docs",
    "web.auth.pages", "web.operator.api", "web.operator.pages", "web.operator.integrations", "web.account.pages", "web.account.http",
    "web.access.api", "web.access.pages",
    "web.telephony.calendars.http",
    "web.telephony.calendars.pages", "web.telephony.employees.pages",
    "web.telephony.groups.pages", "web.telephony.sip.pages",
    "web.telephony.numbers.pages", "web.telephony.trunks.pages",
    "web.telephony.lists.pages", "web.telephony.conferences.pages", "web.telephony.pbx_settings.pages",
    "web.telephony.numbers.http", "web.telephony.sip.http", "web.telephony.employees.http",
    "web.telephony.groups.http", "web.telephony.pbx_settings.http", "web.telephony.schemes.http",
    "web.telephony.lists.http", "web.telephony.conferences.http", "web.telephony.trunks.http",
    "web.finance.api", "web.finance.pages",
    "web.finance.tariff", "web.operator.tariffs",
    "web.finance.edition",
    "web.telephony.schemes.pages",
    "web.telephony.sounds.http", "web.media.fs", "web.telephony.dryrun.http",
    "web.telephony.dryrun.pages",
    "web.telephony.webhooks.http", "web.telephony.webhooks.pages",
    "web.telephony.ldap.http", "web.telephony.ldap.pages",
)


@dataclass(frozen=True)
class RouteInfo:
    """One entry of the route table."""

    path: str                 # as written, with {name} placeholders (the OpenAPI path)
    pattern: str              # the Tornado regex
    handler: type
    access: str
    name: str | None = None
    kind: str = "page"        # page | api | system | external
    kwargs: dict = field(default_factory=dict)
    section: str | None = None  # rights section (web/rights.py); None: personal/undeclared
    level: str | None = None    # level needed for every method; None: view for GET, edit otherwise
    personal: bool = False      # only the signed-in user's own things (no section needed)

    @property
    def methods(self) -> list[str]:
        """HTTP methods the handler implements (GET, POST, ...)."""
        from tornado.web import RequestHandler

        out = []
        for m in ("get", "post", "put", "patch", "delete"):
            impl = getattr(self.handler, m, None)
            if impl is not None and impl is not getattr(RequestHandler, m, None):
                out.append(m.upper())
        return out

    def urlspec(self):
        from tornado.web import URLSpec

        return URLSpec(self.pattern, self.handler, self.kwargs or None, name=self.name)


_ROUTES: list[RouteInfo] = []
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def to_pattern(path: str, params: dict[str, str] | None = None) -> str:
    """``/api/v1/sessions/{sid}`` → ``/api/v1/sessions/(?P<sid>[^/]+)$``."""
    params = params or {}
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(path):
        out.append(re.escape(path[pos:m.start()]).replace("\\/", "/"))
        out.append(f"(?P<{m.group(1)}>{params.get(m.group(1), '[^/]+')})")
        pos = m.end()
    out.append(re.escape(path[pos:]).replace("\\/", "/"))
    return "".join(out) + "$"


def route(path: str, *, access: str, name: str | None = None, kind: str | None = None,
          params: dict[str, str] | None = None, kwargs: dict | None = None,
          section: str | None = None, level: str | None = None, personal: bool = False):
    """Class decorator: add the handler to the route table and set its ``access``.

    ``section``/``level``: the right a tenant user needs (see web/enforce.py), e.g.
    ``section="employees"`` (view for GET, edit for the rest) or ``level="edit"`` for all methods;
    ``personal=True`` for the user's own things (profile, sessions) that need no section.
    """
    if section is not None or level is not None:
        from web.rights import check_route_right

        check_route_right(path, section, level)
    if access not in ACCESS_LEVELS:
        raise ValueError(f"route {path}: access must be one of {ACCESS_LEVELS}, got {access!r}")
    if not path.startswith("/"):
        raise ValueError(f"route {path}: the path must start with '/'")

    def register(cls):
        k = kind or ("api" if path.startswith("/api/") else "page")
        info = RouteInfo(path, to_pattern(path, params), cls, access, name, k, dict(kwargs or {}),
                         section, level, personal)
        for i, existing in enumerate(_ROUTES):
            if existing.path == path:
                if existing.handler.__qualname__ != cls.__qualname__:
                    raise ValueError(f"route {path} is registered twice "
                                     f"({existing.handler.__qualname__} and {cls.__qualname__})")
                _ROUTES[i] = info  # a module re-imported (tests reloading): keep one entry
                break
        else:
            _ROUTES.append(info)
        cls.access = access
        cls.route_info = info
        cls.rights_section, cls.rights_level, cls.personal = section, level, personal
        return cls
    return register


def load_handlers() -> None:
    """Import every module that registers routes (idempotent)."""
    for mod in HANDLER_MODULES:
        importlib.import_module(mod)


def core_routes() -> list[RouteInfo]:
    """Pult's own routes (pages, API, health), in registration order."""
    load_handlers()
    return list(_ROUTES)


def external_routes(specs: list[Any]) -> list[RouteInfo]:
    """Describe URL specs mounted from other packages (tuples or ``URLSpec``)."""
    from tornado.web import URLSpec

    out = []
    for spec in specs or []:
        if not isinstance(spec, URLSpec):
            spec = URLSpec(*spec)
        pattern = spec.regex.pattern
        access = getattr(spec.handler_class, "access", "external")
        out.append(RouteInfo(pattern.rstrip("$"), pattern, spec.handler_class, access, spec.name,
                             "external", dict(spec.kwargs or {})))
    return out


def all_routes(ctx: Any = None) -> list[RouteInfo]:
    """Every route the app built from ``ctx`` serves: Pult's own plus ``ctx.extra_routes``."""
    routes = core_routes()
    if ctx is not None:
        routes += external_routes(ctx.extra_routes)
    return routes
