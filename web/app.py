"""The Tornado application: :func:`make_app` turns an :class:`~web.context.AppContext` into a
``tornado.web.Application`` serving the cabinet, the JSON API, health and metrics, plus the
routes other packages hand in (``ctx.extra_routes``, e.g. fs_config's ``/fs/xml-curl``).

    ctx = AppContext.create(settings, store, nodes=node_manager, jobs_health=jobs.health,
                            extra_routes=fs_config.routes(settings, providers))
    app = make_app(ctx)
    app.listen(settings.http_port, settings.http_host, xheaders=False)

Application settings the handlers use: ``ctx``, ``sessions`` (SessionStore),
``login_limiter``, ``api_limiter`` (requests per API key), ``metrics_networks``.
"""
from __future__ import annotations

import logging
from pathlib import Path

import tornado.web

from pult import i18n
from pult.networks import parse_networks
from pult.observability import HTTP_REQUESTS
from web.api_limits import DEFAULT_LIMIT, ApiRateLimiter
from web.auth.ratelimit import LoginRateLimiter
from web.auth.sessions import SessionStore
from web.context import AppContext
from web.handlers import BaseHandler, PageHandler
from web.routes import all_routes, core_routes
from web.security import SecurityHeaders

log = logging.getLogger("pult.web.access")

HERE = Path(__file__).parent
DEFAULT_METRICS_ALLOW = "127.0.0.0/8,::1/128"


class NotFoundPage(PageHandler):
    """Any unknown URL: an HTML page, or the JSON error envelope under /api/."""

    csrf_exempt = True  # it changes nothing; a POST to a wrong URL should read "not found"

    def get(self, *args, **kwargs):
        raise tornado.web.HTTPError(404)

    # every method: an unknown URL is not found whatever is asked of it (an OPTIONS or HEAD
    # answered 405 with an Allow listing methods that nothing here has)
    post = put = patch = delete = options = head = get

    def render_error(self, status, code, message, fields):
        if self.request.path.startswith("/api/"):
            return BaseHandler.render_error(self, status, code, message, fields)
        return super().render_error(status, code, message, fields)


class StaticFiles(tornado.web.StaticFileHandler):
    """Static assets, cached for a year when requested with the ``?v=`` version hash."""


def _log_request(handler: tornado.web.RequestHandler) -> None:
    status = handler.get_status()
    seconds = handler.request.request_time()
    HTTP_REQUESTS.labels(handler.request.method, str(status)).observe(seconds)
    if status >= 500:
        log.error("%s %s %s %.1fms", status, handler.request.method, handler.request.path, seconds * 1000)
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("%s %s %s %.1fms", status, handler.request.method, handler.request.path, seconds * 1000)


def make_app(ctx: AppContext) -> tornado.web.Application:
    """Build the application for ``ctx`` (no I/O; listening is the caller's business)."""
    i18n.load()
    settings = ctx.settings
    metrics_allow = ctx.metrics_allow or getattr(settings, "metrics_allow", None) or DEFAULT_METRICS_ALLOW
    handlers = [r.urlspec() for r in core_routes()]
    handlers += list(ctx.extra_routes or [])
    app = tornado.web.Application(
        handlers,
        ctx=ctx,
        sessions=SessionStore(ctx.redis, ctx.redis_prefix, ctx.session_idle, ctx.session_absolute),
        login_limiter=LoginRateLimiter(ctx.redis, ctx.redis_prefix, ctx.login_limits),
        api_limiter=ApiRateLimiter(ctx.redis, ctx.redis_prefix,
                                   getattr(settings, "api_rate_limit", None) or DEFAULT_LIMIT),
        metrics_networks=parse_networks(metrics_allow, "PULT_METRICS_ALLOW"),
        cookie_secret=settings.cookie_secret(),
        # CSRF is checked by BaseHandler.prepare for Pult's handlers; mounted routes (xml_curl,
        # called by FreeSWITCH, not browsers) keep their own rules, so the global switch stays off.
        xsrf_cookies=False,
        xsrf_cookie_kwargs={"httponly": False, "samesite": "Lax", "secure": settings.cookie_secure,
                            "path": "/"},
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix="/static/",
        static_handler_class=StaticFiles,
        default_handler_class=NotFoundPage,
        log_function=_log_request,
        compiled_template_cache=not ctx.debug,
        static_hash_cache=not ctx.debug,
        debug=ctx.debug,
        autoreload=False,
    )
    transform = type("PultSecurityHeaders", (SecurityHeaders,), {"hsts": settings.cookie_secure})
    app.add_transform(transform)
    app.ctx = ctx
    app.route_table = all_routes(ctx)
    return app
