"""Pult's configuration: environment variables and an optional file, validated at start.

Every process (server, worker, beat, CLI) calls :func:`load_settings` once. A wrong value stops
the process with a message that names the setting and says what is expected, e.g.::

    Invalid setting PULT_HTTP_PORT='abc': Input should be a valid integer

Sources, later ones win: defaults < the file named by ``PULT_CONFIG`` (TOML or JSON, keys are
the setting names without prefix, lower case) < environment variables.

Names: most settings are ``PULT_<NAME>``; the well-known ones keep their usual names
(``MONGO_URL``, ``REDIS_URL``, ``SENTRY_DSN``, ``FREESWITCH_ESL``).
"""
from __future__ import annotations

import ipaddress
import json
import os
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(Exception):
    """A setting is missing or wrong; the message names it."""


def _sip_address(value: str, words: tuple[str, ...], what: str) -> str:
    value = (value or "").strip()
    if value in words:
        return value
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an IP address (or one of {', '.join(words)})") from None


class SipAddresses(BaseModel):
    """Where a node's SIP profiles listen and what they announce (served in ``sofia.conf``).

    ``sip_ip``/``rtp_ip``: the local address the ``internal`` (phones) and ``external`` (trunks,
    SIP numbers) profiles bind to and send media from (``auto``: FreeSWITCH's guess, the address
    of the default route). ``ext_sip_ip``/``ext_rtp_ip``: the address written into SIP/SDP for the
    outside — the public address of a node behind NAT (``auto-nat``: FreeSWITCH's NAT guess;
    ``auto``: same as local). ``rtp_start_port``/``rtp_end_port``: the node's RTP port range
    (served as ``post_load_switch.conf``, read once at the switch's start; None: the range of the
    switch's own ``switch.conf``). These are the node's defaults: the operator console
    (``esl_control.model.node_sip``) stores values that win over them.
    """

    model_config = {"extra": "forbid"}

    sip_ip: str = "auto"
    rtp_ip: str | None = None  # default: sip_ip
    ext_sip_ip: str = "auto-nat"
    ext_rtp_ip: str | None = None  # default: ext_sip_ip
    internal_port: int = Field(5060, ge=1, le=65535)
    external_port: int = Field(5080, ge=1, le=65535)
    rtp_start_port: int | None = Field(None, ge=1024, le=65535)
    rtp_end_port: int | None = Field(None, ge=1024, le=65535)

    @field_validator("sip_ip", "rtp_ip")
    @classmethod
    def _local(cls, v: str | None, info) -> str | None:
        return None if v is None else _sip_address(v, ("auto",), info.field_name)

    @field_validator("ext_sip_ip", "ext_rtp_ip")
    @classmethod
    def _external(cls, v: str | None, info) -> str | None:
        return None if v is None else _sip_address(v, ("auto", "auto-nat"), info.field_name)

    @model_validator(mode="after")
    def _ports_differ(self) -> "SipAddresses":
        if self.internal_port == self.external_port:
            raise ValueError(f"internal_port and external_port are both {self.internal_port}: "
                             "the two SIP profiles need a port each")
        if (self.rtp_start_port is None) != (self.rtp_end_port is None):
            raise ValueError("rtp_start_port and rtp_end_port go together (or neither: the switch's own range)")
        if self.rtp_start_port is not None:
            if self.rtp_start_port >= self.rtp_end_port:
                raise ValueError(f"rtp_start_port {self.rtp_start_port} must be below rtp_end_port {self.rtp_end_port}")
            for name in ("internal_port", "external_port"):
                if self.rtp_start_port <= getattr(self, name) <= self.rtp_end_port:
                    raise ValueError(f"{name} {getattr(self, name)} lies in the RTP range "
                                     f"{self.rtp_start_port}-{self.rtp_end_port}")
        return self

    def profile_settings(self) -> dict[str, dict[str, object]]:
        """The ``sofia.conf`` settings per profile name (``internal``, ``external``)."""
        common = {"sip-ip": self.sip_ip, "rtp-ip": self.rtp_ip or self.sip_ip,
                  "ext-sip-ip": self.ext_sip_ip, "ext-rtp-ip": self.ext_rtp_ip or self.ext_sip_ip}
        return {"internal": {**common, "sip-port": self.internal_port},
                "external": {**common, "sip-port": self.external_port}}

    def switch_settings(self) -> dict[str, int]:
        """The core settings served in ``post_load_switch.conf`` (empty: nothing to serve)."""
        if self.rtp_start_port is None:
            return {}
        return {"rtp-start-port": self.rtp_start_port, "rtp-end-port": self.rtp_end_port}


class FsNode(BaseModel):
    """One FreeSWITCH node reached over inbound ESL, and its SIP addresses."""

    name: str
    host: str
    port: int = Field(8021, ge=1, le=65535)
    password: str = "ClueCon"
    weight: int = Field(1, ge=0)
    sip: SipAddresses = Field(default_factory=SipAddresses)


def parse_nodes(value: str) -> list[FsNode]:
    """Parse ``FREESWITCH_ESL``/``PULT_ESL_NODES``.

    Either JSON (a list of objects with name/host/port/password/weight) or a compact
    comma-separated list ``[name=]host[:port[:password]]``. The name defaults to ``fs<N>``.
    """
    value = value.strip()
    if not value:
        return []
    if value.startswith("["):
        return [FsNode(**item) for item in json.loads(value)]
    nodes = []
    for i, item in enumerate(filter(None, (p.strip() for p in value.split(","))), start=1):
        name, _, addr = item.rpartition("=")
        host, _, rest = addr.partition(":")
        port, _, password = rest.partition(":")
        if not host:
            raise ValueError(f"node {item!r}: host is empty (expected [name=]host[:port[:password]])")
        nodes.append(FsNode(name=name or f"fs{i}", host=host, port=int(port or 8021),
                            password=password or "ClueCon"))
    return nodes


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PULT_", extra="ignore", populate_by_name=True)

    # --- storage
    mongo_url: str | None = Field(None, validation_alias="MONGO_URL")
    mongo_db: str = "pult"
    data_dir: Path = Path("var")
    journal_fsync: bool = False  # embedded store: fsync each journal write (slower, survives power loss)
    # embedded store: documents it is sized for (README "Capacity"); /readyz and the operator
    # console warn from 80 % on — time to move to MongoDB (pult store export)
    store_capacity_documents: int = Field(1_000_000, ge=1000)

    # --- redis / celery
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    embedded_worker: bool | None = None  # default: True when MONGO_URL is unset
    worker_concurrency: int | None = Field(None, ge=1)
    celery_always_eager: bool = False

    # --- http
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=1, le=65535)
    base_url: str | None = None  # public URL used in e-mails and links; default http://host:port
    secret_key: str | None = None  # cookie signing; generated into data_dir when unset
    cookie_secure: bool = False  # set True behind HTTPS
    trusted_proxy: bool = False  # behind nginx: take the client address from X-Real-IP/X-Forwarded-For
    metrics_allow: str = "127.0.0.0/8,::1/128"  # CIDRs that may read /metrics
    # requests per API key (tenant and integration keys), shared by every process through Redis:
    # the limits notation, e.g. 600/minute, 20/second, 10000/hour (web/api_limits.py)
    api_rate_limit: str = "600/minute"
    default_language: str = "ru"

    # --- FreeSWITCH
    esl_nodes: str = Field("", validation_alias="FREESWITCH_ESL")
    esl_reconnect_min: float = Field(0.5, gt=0)
    esl_reconnect_max: float = Field(30.0, gt=0)
    esl_command_timeout: float = Field(10.0, gt=0)
    esl_heartbeat_interval: float = Field(2.0, gt=0)  # seconds between heartbeats to an up node
    esl_heartbeat_timeout: float = Field(3.0, gt=0)  # no answer within this: the node is down
    gateway_reconcile_interval: float = Field(30.0, ge=1)  # seconds between gateway/ACL reconciles
    outbound_host: str = "127.0.0.1"
    outbound_port: int = Field(8084, ge=0, le=65535)  # 0 = any free port (tests)
    # what FreeSWITCH asks over HTTP (/fs/xml-curl, /fs/cdr, and /healthz) is also served on a
    # port of its own with an event loop of its own (fs_config/server.py): nothing the cabinet does
    # makes it wait. The main port keeps serving them too. fs_host default: http_host.
    fs_host: str | None = None
    fs_port: int = Field(8085, ge=0, le=65535)  # 0 = any free port (tests)
    xml_curl_secret: str | None = None  # HTTP basic password FreeSWITCH sends (gateway-credentials)
    xml_curl_allow: str = "127.0.0.0/8,::1/128"  # comma-separated CIDRs allowed to query
    esl_acl: str = ""  # CIDRs of the Pult servers allowed to the Event Socket (acl.conf pult_esl)
    xml_curl_trusted_proxies: str = ""  # CIDRs of proxies whose X-Real-IP is believed for xml_curl
    sip_base_domain: str = "pult.local"
    # --- prompts (esl_control/prompts): the generated set, the nodes' copy of it, operator voices
    sounds_dir: Path | None = None  # default <data_dir>/sounds; `pult prompts generate` writes it
    fs_sounds_dir: Path | None = None  # the same set as FreeSWITCH nodes see it (default: sounds_dir)
    prompt_voice_ru: Path | None = None  # an installed package / recordings, e.g. …/sounds/ru/RU/elena
    prompt_voice_en: Path | None = None  # e.g. /usr/share/freeswitch/sounds/en/us/callie
    # --- spool (jobs/spool.py): voice mail and faxes the call engine records, imported by a job.
    # FreeSWITCH writes there and the worker reads and deletes there: the same directory by the
    # same absolute path on the node and on Pult (same host or a shared mount; deploy/README.md).
    spool_dir: Path = Path("/var/spool/pult")
    spool_orphan_grace: float = Field(6 * 3600.0, gt=0)  # s before a file of no known call is quarantined
    vat_rate: int = Field(20, ge=0, le=100)  # percent; the operator console may override it

    # --- mail and SMS
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 20.0
    mail_from: str = "Pult <noreply@pult.local>"
    sms_gateway_url: str | None = None
    sms_gateway_token: str | None = None
    # let the SMS gateway URL (env or operator console) point at private/loopback addresses: a
    # gateway inside the operator's network, local test receivers. Off: SSRF guard (jobs/sms.py);
    # link-local / cloud-metadata addresses stay refused either way.
    sms_allow_private: bool = False

    # --- webhooks (esl_control/model/webhooks, jobs/webhooks.py)
    # let webhook targets be private/loopback addresses (receivers inside the operator's network,
    # the tests' local receivers). Off: the SSRF guard of pult/netguard.py refuses them.
    webhook_allow_private: bool = False
    webhook_timeout: float = Field(10.0, gt=0, le=60)   # s per delivery attempt
    webhook_max_retries: int = Field(8, ge=0, le=20)    # retries of a failed delivery (backoff)
    # a subscription whose deliveries failed this many times in a row (each after its retries) is
    # disabled and the PBX's administrators are told
    webhook_disable_after: int = Field(5, ge=1, le=1000)
    # the delivery log keeps, per subscription, at most this many finished deliveries (the newest)
    # and none whose last activity is older than webhook_log_days (a daily job prunes it)
    webhook_log_keep: int = Field(1000, ge=1, le=1_000_000)
    webhook_log_days: int = Field(30, ge=1, le=3650)

    # --- observability
    sentry_dsn: str | None = Field(None, validation_alias="SENTRY_DSN")
    log_format: str = "text"  # text | json
    log_level: str = "INFO"

    @field_validator("api_rate_limit")
    @classmethod
    def _check_rate_limit(cls, v: str) -> str:
        from limits import parse

        try:
            item = parse(v)
        except ValueError:
            raise ValueError("not a rate limit: write requests/period, e.g. 600/minute") from None
        if item.amount < 1:
            raise ValueError("a rate limit allows at least 1 request")
        return v

    @field_validator("esl_nodes")
    @classmethod
    def _check_nodes(cls, v: str) -> str:
        parse_nodes(v)  # raises with a message naming the bad item
        return v

    @field_validator("log_format")
    @classmethod
    def _check_log_format(cls, v: str) -> str:
        if v not in ("text", "json"):
            raise ValueError("expected 'text' or 'json'")
        return v

    @field_validator("default_language")
    @classmethod
    def _check_language(cls, v: str) -> str:
        if v not in ("ru", "en"):
            raise ValueError("expected 'ru' or 'en'")
        return v

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis:// URL, e.g. redis://127.0.0.1:6379/0")
        return v

    @field_validator("sounds_dir", "fs_sounds_dir", "prompt_voice_ru", "prompt_voice_en", mode="before")
    @classmethod
    def _empty_is_unset(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("fs_sounds_dir", "prompt_voice_ru", "prompt_voice_en")
    @classmethod
    def _check_absolute(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_absolute():
            raise ValueError("expected an absolute directory (FreeSWITCH plays files by this path)")
        return v

    @field_validator("spool_dir", mode="before")
    @classmethod
    def _spool_not_empty(cls, v: Any) -> Any:
        if isinstance(v, str) and not v.strip():
            raise ValueError("expected an absolute directory, e.g. /var/spool/pult")
        return v

    @field_validator("spool_dir")
    @classmethod
    def _check_spool_dir(cls, v: Path) -> Path:
        if not v.is_absolute():
            raise ValueError("expected an absolute directory (FreeSWITCH writes the files by this path), "
                             "e.g. /var/spool/pult")
        if v == Path("/") or ".." in v.parts:
            raise ValueError("expected a dedicated spool directory, e.g. /var/spool/pult")
        return v

    @field_validator("mongo_url")
    @classmethod
    def _check_mongo(cls, v: str | None) -> str | None:
        if v and not v.startswith(("mongodb://", "mongodb+srv://")):
            raise ValueError("expected a mongodb:// URL")
        return v or None

    @model_validator(mode="after")
    def _defaults(self) -> "Settings":
        if self.embedded_worker is None:
            self.embedded_worker = self.mongo_url is None
        if self.esl_reconnect_max < self.esl_reconnect_min:
            raise ValueError("PULT_ESL_RECONNECT_MAX must be >= PULT_ESL_RECONNECT_MIN")
        if self.fs_port and self.fs_port == self.http_port:
            raise ValueError(f"PULT_FS_PORT={self.fs_port} is PULT_HTTP_PORT too: the FreeSWITCH-facing "
                             "HTTP needs a port of its own")
        if self.fs_port and self.fs_port == self.outbound_port:
            raise ValueError(f"PULT_FS_PORT={self.fs_port} is PULT_OUTBOUND_PORT too: the FreeSWITCH-facing "
                             "HTTP needs a port of its own")
        return self

    # --- derived
    @property
    def prompts_dir(self) -> Path:
        """Where the generated prompt set is (``sounds_dir``, default ``<data_dir>/sounds``)."""
        return (self.sounds_dir or self.data_dir / "sounds").absolute()

    @property
    def nodes(self) -> list[FsNode]:
        return parse_nodes(self.esl_nodes)

    @property
    def embedded(self) -> bool:
        return self.mongo_url is None

    @property
    def public_url(self) -> str:
        return (self.base_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def fs_base_url(self) -> str:
        """Where FreeSWITCH reaches Pult's switch-facing HTTP (``/fs/xml-curl``, ``/fs/cdr``): the
        FreeSWITCH port (``fs_host``, default ``http_host``), or the main port when ``fs_port`` is
        0 (a free port, known only once the server runs)."""
        if not self.fs_port:
            return f"http://{self.http_host}:{self.http_port}"
        return f"http://{self.fs_host or self.http_host}:{self.fs_port}"

    def xml_curl_password(self) -> str:
        """The HTTP Basic password FreeSWITCH must send to ``/fs/xml-curl``: ``xml_curl_secret``
        when configured, else one generated at first start into ``<data_dir>/xml_curl_secret``
        (mode 0600) and kept — the directory holds every SIP account's a1-hash, so it is never
        open to any local process by default. ``pult freeswitch-vars`` prints it into the
        FreeSWITCH snippet (deploy/freeswitch/vars_pult.xml)."""
        if self.xml_curl_secret:
            return self.xml_curl_secret
        return _generated_secret(self.data_dir / "xml_curl_secret", 24)

    def cookie_secret(self) -> str:
        """The cookie-signing secret; generated once into the data directory if not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()


def _generated_secret(path: Path, nbytes: int) -> str:
    """The secret kept in ``path``; generated (mode 0600) the first time it is asked for."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process generated it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(nbytes))
    return path.read_text().strip()


_ALIASES = {"mongo_url": "MONGO_URL", "redis_url": "REDIS_URL", "esl_nodes": "FREESWITCH_ESL",
            "sentry_dsn": "SENTRY_DSN"}


def _env_name(field: str) -> str:
    return _ALIASES.get(field, f"PULT_{field.upper()}")


def _read_file(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise SettingsError(f"PULT_CONFIG={path!r}: no such file")
    try:
        if p.suffix == ".json":
            return json.loads(p.read_text())
        return tomllib.loads(p.read_text())
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"PULT_CONFIG={path!r}: cannot parse: {exc}") from exc


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings; raise :class:`SettingsError` naming the wrong one."""
    file_values: dict[str, Any] = {}
    if os.environ.get("PULT_CONFIG"):
        file_values = _read_file(os.environ["PULT_CONFIG"])
        unknown = set(file_values) - set(Settings.model_fields)
        if unknown:
            raise SettingsError(f"PULT_CONFIG: unknown setting(s) {', '.join(sorted(unknown))}")
    # file values are defaults; the environment overrides them; explicit overrides win over both
    init = {k: v for k, v in file_values.items() if _env_name(k) not in os.environ}
    init.update(overrides)
    try:
        return Settings(**init)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, init)) from None


def _describe(exc: ValidationError, init: dict[str, Any]) -> str:
    lines = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        key = field.lower()
        if key in {v.lower() for v in _ALIASES.values()}:
            key = next(k for k, v in _ALIASES.items() if v.lower() == key)
        name = _env_name(key) if key else "settings"
        value = init.get(key, os.environ.get(name))
        shown = f"={value!r}" if value is not None and "password" not in key and "secret" not in key else ""
        lines.append(f"Invalid setting {name}{shown}: {err['msg']}")
    return "\n".join(lines)


@dataclass
class _Holder:
    settings: Settings | None = None


_holder = _Holder()


def get_settings() -> Settings:
    """The process-wide settings (loaded on first use)."""
    if _holder.settings is None:
        _holder.settings = load_settings()
    return _holder.settings


def set_settings(settings: Settings | None) -> None:
    """Install settings for this process (CLI start-up and tests)."""
    _holder.settings = settings
