"""Logging, metrics and error reporting shared by every Pult process.

- :func:`setup_logging` — structured logs: ``key=value`` text or one JSON object per line
  (``PULT_LOG_FORMAT``), via structlog on top of the standard ``logging`` module so library
  logs (tornado, celery, greenswitch) come out in the same format.
- Prometheus metrics (prometheus_client): the objects below are the one place where metric
  names are defined; ``/metrics`` on the server exposes them.
- :func:`setup_sentry` — sentry-sdk, only when ``SENTRY_DSN`` is set.
"""
from __future__ import annotations

import logging
import sys

import structlog
from prometheus_client import Counter, Gauge, Histogram

# --- metrics ---------------------------------------------------------------------------------
ESL_EVENTS = Counter("pult_esl_events_total", "ESL events received", ["node"])
ESL_NODE_UP = Gauge("pult_fs_node_up", "1 when the inbound ESL connection to a node is up", ["node"])
ESL_RECONNECTS = Counter("pult_fs_node_reconnects_total", "Inbound ESL reconnect attempts", ["node"])
CALLS_IN_PROGRESS = Gauge("pult_calls_in_progress", "Calls in progress seen over ESL", ["node"])
CALL_RECORDS = Counter("pult_call_records_total", "Call records stored", ["node"])
OUTBOUND_SESSIONS = Gauge("pult_outbound_sessions", "Outbound ESL call sessions being handled")
JOB_QUEUE_LENGTH = Gauge("pult_job_queue_length", "Messages waiting in a Celery queue", ["queue"])
HTTP_REQUESTS = Histogram("pult_http_request_seconds", "HTTP request time", ["method", "status"])
SPOOL_FILES = Gauge("pult_spool_files", "Voice mail/fax files in the spool: waiting for import, "
                    "or quarantined (no known call; an operator must look)", ["state"])
XML_CURL_REQUESTS = Counter("pult_xml_curl_requests_total", "mod_xml_curl lookups", ["section", "result"])


# --- logging ---------------------------------------------------------------------------------
def setup_logging(fmt: str = "text", level: str = "INFO") -> None:
    """Route stdlib logging and structlog through one renderer (text or JSON lines)."""
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared, processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("tornado.access").setLevel(logging.WARNING)


def get_logger(name: str):
    """A structlog logger: ``log.info("node up", node="fs1")``."""
    return structlog.get_logger(name)


def setup_sentry(dsn: str | None, component: str) -> bool:
    """Initialise sentry-sdk when a DSN is configured; returns whether it was."""
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(dsn=dsn, server_name=component, send_default_pii=False,
                    traces_sample_rate=0.0)
    sentry_sdk.set_tag("component", component)
    return True
