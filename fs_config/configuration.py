"""The ``configuration`` section: ``sofia.conf`` gateways, ``acl.conf`` lists, ``conference.conf`` profiles.

FreeSWITCH asks for a whole ``.conf`` at a time (``key_value`` = its name) and uses only what the
answer holds, so each builder returns one complete ``<configuration name="...">``:

- :func:`build_sofia_conf` — SIP profiles with their ``<settings>`` and ``<gateways>``: one
  gateway per active SIP number (registering to the other operator: ``register=true``,
  username/password/realm) and per SIP trunk (IP-authenticated: ``register=false``, OPTIONS
  ``ping``). Codec preferences go on the gateway as the ``absolute_codec_string`` channel variable.
- :func:`build_acl_conf` — ``<network-lists>``: trunk source addresses and the tenants' SIP
  whitelists (entries converted with :func:`esl_control.routing.acl.whitelist_to_cidrs`).
- :func:`build_conference_conf` — conference profiles, one per room or ad-hoc limit, with the
  seat limit as ``max-members``, and the ``<caller-controls>`` groups they name.

Parameter names are the ones FreeSWITCH 1.10 reads (mod_sofia ``sofia.c`` gateway parsing,
``switch_core.c`` ACL loading, mod_conference ``conference_new``); unknown names in the free-form
``params`` of a conference profile are refused so a typo does not silently do nothing.
"""
from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from esl_control.routing.acl import whitelist_to_cidrs
from fs_config.xml import XmlBuildError, add_params, child, configuration_document, render

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_CODEC = re.compile(r"^[A-Za-z0-9.@-]{1,40}$")
_DIGITS = re.compile(r"^[0-9]{1,16}$")
_DTMF = re.compile(r"^[0-9*#A-D]{1,8}$")


def _check_name(kind: str, name: str, seen: set[str] | None = None) -> str:
    """A valid element name; with ``seen``, also one not used before in this document."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise XmlBuildError(f"{kind} name {name!r}: expected 1-64 letters, digits, '_', '.', '-'")
    if seen is not None:
        if name in seen:
            raise XmlBuildError(f"{kind} {name} listed twice")
        seen.add(name)
    return name


# --- sofia.conf ------------------------------------------------------------------------------
#: Gateway ``<param>`` names this module writes (all read by mod_sofia's gateway parser).
GATEWAY_PARAMS = frozenset({
    "register", "proxy", "realm", "username", "password", "from-user", "from-domain",
    "register-proxy", "outbound-proxy", "expire-seconds", "retry-seconds", "ping",
    "caller-id-in-from", "register-transport", "context", "extension",
})
REGISTER_TRANSPORTS = frozenset({"udp", "tcp", "tls"})


@dataclass(frozen=True)
class SofiaGateway:
    """One sofia gateway: an active SIP number (registers) or a SIP trunk (``register=False``).

    ``ping`` sends SIP OPTIONS every N seconds (N ≥ 5, FreeSWITCH ignores less) and marks the
    gateway down when they go unanswered. ``codecs`` (e.g. ``("PCMA", "PCMU")``) become
    ``absolute_codec_string`` for calls through the gateway. ``variables`` are set on every call
    through it, e.g. ``pult_trunk_id`` so the call flow knows where an inbound call came from.
    """

    name: str
    proxy: str
    register: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    realm: str | None = None
    from_user: str | None = None
    from_domain: str | None = None
    register_proxy: str | None = None
    outbound_proxy: str | None = None
    expire_seconds: int | None = None
    retry_seconds: int | None = None
    ping: int | None = None
    caller_id_in_from: bool = False
    register_transport: str | None = None
    context: str | None = None
    extension: str | None = None
    codecs: tuple[str, ...] = ()
    variables: Mapping[str, str] = field(default_factory=dict)

    def params(self) -> list[tuple[str, object]]:
        """The ``<param>`` pairs, validated (raises XmlBuildError naming the gateway and field)."""
        where = f"gateway {self.name}"
        if not self.proxy:
            raise XmlBuildError(f"{where}: proxy (host[:port]) is required")
        if self.register and (not self.username or not self.password):
            raise XmlBuildError(f"{where}: a registering gateway needs username and password")
        if self.ping is not None and not 5 <= self.ping <= 3600:
            raise XmlBuildError(f"{where}: ping must be 5..3600 seconds (got {self.ping})")
        for label, value in (("expire_seconds", self.expire_seconds), ("retry_seconds", self.retry_seconds)):
            if value is not None and value < 5:
                raise XmlBuildError(f"{where}: {label} must be at least 5 (got {value})")
        if self.register_transport is not None and self.register_transport not in REGISTER_TRANSPORTS:
            raise XmlBuildError(f"{where}: register_transport must be one of "
                                f"{', '.join(sorted(REGISTER_TRANSPORTS))}")
        return [
            ("register", self.register),
            ("proxy", self.proxy),
            ("realm", self.realm),
            ("username", self.username),
            ("password", self.password),
            ("from-user", self.from_user),
            ("from-domain", self.from_domain),
            ("register-proxy", self.register_proxy),
            ("outbound-proxy", self.outbound_proxy),
            ("expire-seconds", self.expire_seconds),
            ("retry-seconds", self.retry_seconds),
            ("ping", self.ping),
            ("caller-id-in-from", self.caller_id_in_from),
            ("register-transport", self.register_transport),
            ("context", self.context),
            ("extension", self.extension),
        ]

    def channel_variables(self) -> list[tuple[str, object]]:
        pairs: list[tuple[str, object]] = []
        if self.codecs:
            for codec in self.codecs:
                if not _CODEC.match(codec):
                    raise XmlBuildError(f"gateway {self.name}: codec {codec!r} is not a codec name")
            pairs.append(("absolute_codec_string", ",".join(self.codecs)))
        pairs.extend(self.variables.items())
        return pairs


@dataclass(frozen=True)
class SofiaProfile:
    """A SIP profile: its ``<settings>`` (passed as given: sip-ip, sip-port, context, ...) and gateways."""

    name: str
    settings: Mapping[str, object] = field(default_factory=dict)
    gateways: Sequence[SofiaGateway] = ()


def build_sofia_conf(profiles: Iterable[SofiaProfile],
                     global_settings: Mapping[str, object] | None = None) -> str:
    """The whole ``sofia.conf``. Gateway names must be unique across all profiles (FreeSWITCH
    addresses them as ``sofia/gateway/<name>/...``)."""
    doc, conf = configuration_document("sofia.conf", "sofia Endpoint")
    add_params(child(conf, "global_settings"), (global_settings or {}).items(), where="global_settings ")
    profiles_el = child(conf, "profiles")
    seen_profiles: set[str] = set()
    seen_gateways: set[str] = set()
    for profile in profiles:
        _check_name("sofia profile", profile.name, seen_profiles)
        prof = child(profiles_el, "profile", {"name": profile.name})
        gws = child(prof, "gateways")
        for gw in profile.gateways:
            _check_name("gateway", gw.name, seen_gateways)
            gw_el = child(gws, "gateway", {"name": gw.name})
            add_params(gw_el, gw.params(), where=f"gateway {gw.name} ")
            variables = gw.channel_variables()
            if variables:
                add_params(child(gw_el, "variables"), variables, tag="variable", where=f"gateway {gw.name} ")
        add_params(child(prof, "settings"), profile.settings.items(), where=f"profile {profile.name} ")
    return render(doc)


# --- post_load_switch.conf ------------------------------------------------------------------
#: The core's ``<settings>`` Pult serves (``switch_load_core_config`` reads them from
#: ``post_load_switch.conf`` once, after the modules, mod_xml_curl among them, are loaded).
CORE_PARAMS = frozenset({"rtp-start-port", "rtp-end-port"})
POST_LOAD_SWITCH_CONF = "post_load_switch.conf"


def build_post_load_switch_conf(settings: Mapping[str, object]) -> str:
    """``<configuration name="post_load_switch.conf">`` with the core ``settings`` given (names
    from :data:`CORE_PARAMS`; another name is refused so a typo does not silently do nothing)."""
    unknown = sorted(set(settings) - CORE_PARAMS)
    if unknown:
        raise XmlBuildError(f"post_load_switch.conf: Pult does not serve {', '.join(unknown)}")
    doc, conf = configuration_document(POST_LOAD_SWITCH_CONF, "Core (after modules)")
    add_params(child(conf, "settings"), settings.items(), where="post_load_switch.conf ")
    return render(doc)


# --- acl.conf --------------------------------------------------------------------------------
@dataclass(frozen=True)
class AclNode:
    """``<node type="allow|deny" cidr="..."/>``."""

    type: str
    cidr: str

    def validated(self) -> tuple[str, str]:
        if self.type not in ("allow", "deny"):
            raise XmlBuildError(f"acl node type {self.type!r}: expected 'allow' or 'deny'")
        try:
            net = ipaddress.ip_network(self.cidr, strict=True)
        except ValueError as exc:
            raise XmlBuildError(f"acl node cidr {self.cidr!r}: {exc}") from None
        return self.type, str(net)


@dataclass(frozen=True)
class AclList:
    """A named network list; FreeSWITCH checks nodes most-specific first, then ``default``."""

    name: str
    default: str = "deny"
    nodes: Sequence[AclNode] = ()


def allow_list(name: str, cidrs: Iterable[str], default: str = "deny") -> AclList:
    """An ACL list allowing exactly ``cidrs`` (trunk addresses as ``a.b.c.d/32``, networks...)."""
    return AclList(name=name, default=default, nodes=tuple(AclNode("allow", c) for c in cidrs))


def whitelist_acl(name: str, entries: Iterable[str]) -> AclList:
    """The ACL list for a tenant's SIP whitelist entries (``192.168.1.16-32``, ``10.*``...).

    Raises :class:`esl_control.routing.acl.WhitelistEntryError` for a bad entry.
    """
    return allow_list(name, whitelist_to_cidrs(entries))


def build_acl_conf(lists: Iterable[AclList]) -> str:
    """The whole ``acl.conf``. It replaces FreeSWITCH's own, so include every list it needs
    (``reloadacl`` re-fetches it)."""
    doc, conf = configuration_document("acl.conf", "Network Lists")
    nl = child(conf, "network-lists")
    seen: set[str] = set()
    for acl in lists:
        _check_name("acl list", acl.name, seen)
        if acl.default not in ("allow", "deny"):
            raise XmlBuildError(f"acl list {acl.name}: default must be 'allow' or 'deny'")
        lst = child(nl, "list", {"name": acl.name, "default": acl.default})
        for node in acl.nodes:
            kind, cidr = node.validated()
            child(lst, "node", {"type": kind, "cidr": cidr})
    return render(doc)


# --- conference.conf -------------------------------------------------------------------------
#: Profile ``<param>`` names mod_conference 1.10 reads (``conference_new``).
CONFERENCE_PARAMS = frozenset({
    "rate", "channels", "domain", "description", "interval", "timer-name", "tts-engine", "tts-voice",
    "enter-sound", "exit-sound", "alone-sound", "perpetual-sound", "moh-sound", "muted-sound",
    "mute-detect-sound", "unmuted-sound", "locked-sound", "is-locked-sound", "is-unlocked-sound",
    "kicked-sound", "join-only-sound", "member-flags", "conference-flags", "pin", "moderator-pin",
    "pin-retries", "pin-sound", "bad-pin-sound", "energy-level", "auto-gain-level",
    "caller-id-name", "caller-id-number", "caller-controls", "moderator-controls",
    "ivr-dtmf-timeout", "ivr-input-timeout", "broadcast-chat-messages", "comfort-noise",
    "sound-prefix", "max-members", "max-members-sound", "announce-count", "suppress-events",
    "verbose-events", "auto-record", "min-required-recording-participants",
    "terminate-on-silence", "endconf-grace-time", "cdr-log-dir", "cdr-event-mode",
    "outcall-templ", "video-mode",
})
#: Caller-control actions mod_conference knows.
CONFERENCE_ACTIONS = frozenset({
    "mute", "mute on", "mute off", "deaf mute", "deaf on", "deaf off", "vmute", "vmute on",
    "vmute off", "energy up", "energy equ", "energy dn", "vol talk up", "vol talk zero",
    "vol talk dn", "vol listen up", "vol listen zero", "vol listen dn", "hangup", "lock",
    "event", "transfer", "execute_application",
})
CONFERENCE_RATES = frozenset({8000, 12000, 16000, 24000, 32000, 44100, 48000})


@dataclass(frozen=True)
class ConferenceProfile:
    """A conference profile: a room (or a PBX's ad-hoc conferences) and its seat limit.

    ``max_members`` is the seat limit (FreeSWITCH takes 0 = unlimited and refuses 1, so 2..N here).
    ``pin`` / ``moderator_pin`` are digits; whether a PIN is asked of internal callers is the
    call flow's decision. ``params`` adds any other mod_conference profile param by name.
    """

    name: str
    max_members: int
    rate: int | None = None
    pin: str | None = field(default=None, repr=False)
    moderator_pin: str | None = field(default=None, repr=False)
    caller_controls: str | None = "default"
    moh_sound: str | None = None
    sound_prefix: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)

    def all_params(self) -> list[tuple[str, object]]:
        where = f"conference profile {self.name}"
        if isinstance(self.max_members, bool) or not isinstance(self.max_members, int) or self.max_members < 2:
            raise XmlBuildError(f"{where}: max_members must be a whole number of at least 2 "
                                f"(got {self.max_members!r})")
        if self.rate is not None and self.rate not in CONFERENCE_RATES:
            raise XmlBuildError(f"{where}: rate must be one of {sorted(CONFERENCE_RATES)}")
        for label, pin in (("pin", self.pin), ("moderator_pin", self.moderator_pin)):
            if pin is not None and not _DIGITS.match(pin):
                raise XmlBuildError(f"{where}: {label} must be digits")
        unknown = sorted(set(self.params) - CONFERENCE_PARAMS)
        if unknown:
            raise XmlBuildError(f"{where}: unknown conference param(s) {', '.join(unknown)}")
        fixed = {"max-members", "rate", "pin", "moderator-pin", "caller-controls", "moh-sound", "sound-prefix"}
        clash = sorted(set(self.params) & fixed)
        if clash:
            raise XmlBuildError(f"{where}: set {', '.join(clash)} through the named fields, not params")
        pairs: list[tuple[str, object]] = [
            ("max-members", self.max_members),
            ("rate", self.rate),
            ("pin", self.pin),
            ("moderator-pin", self.moderator_pin),
            ("caller-controls", self.caller_controls),
            ("moh-sound", self.moh_sound),
            ("sound-prefix", self.sound_prefix),
        ]
        pairs.extend(self.params.items())
        return pairs


@dataclass(frozen=True)
class ControlGroup:
    """A ``<caller-controls>`` group: DTMF digits → conference action (``("0", "mute")``...)."""

    name: str
    controls: Sequence[tuple[str, str]] = ()


#: The usual keypad controls (FreeSWITCH's sample ``default`` group).
DEFAULT_CONTROLS = ControlGroup("default", (
    ("0", "mute"), ("*", "deaf mute"), ("9", "vol talk up"), ("8", "vol talk zero"),
    ("7", "vol talk dn"), ("6", "vol listen up"), ("5", "vol listen zero"), ("4", "vol listen dn"),
    ("3", "energy up"), ("2", "energy equ"), ("1", "energy dn"), ("#", "hangup"),
))


def build_conference_conf(profiles: Iterable[ConferenceProfile],
                          control_groups: Iterable[ControlGroup] = (DEFAULT_CONTROLS,)) -> str:
    """The ``conference.conf`` answer: ``<caller-controls>`` groups and ``<profiles>``.

    mod_conference asks again with ``Action=request-controls`` for the group a profile names;
    the same document answers that lookup too.
    """
    doc, conf = configuration_document("conference.conf", "Audio Conference")
    controls_el = child(conf, "caller-controls")
    seen_groups: set[str] = set()
    for group in control_groups:
        _check_name("caller-controls group", group.name, seen_groups)
        g = child(controls_el, "group", {"name": group.name})
        for digits, action in group.controls:
            if not _DTMF.match(digits):
                raise XmlBuildError(f"caller-controls {group.name}: digits {digits!r} are not DTMF")
            if action not in CONFERENCE_ACTIONS:
                raise XmlBuildError(f"caller-controls {group.name}: unknown action {action!r}")
            child(g, "control", {"action": action, "digits": digits})
    profiles_el = child(conf, "profiles")
    seen: set[str] = set()
    for profile in profiles:
        _check_name("conference profile", profile.name, seen)
        pairs = profile.all_params()
        named = {name for name, value in pairs if value is not None}
        if "caller-controls" in named and profile.caller_controls not in seen_groups:
            raise XmlBuildError(f"conference profile {profile.name}: caller-controls group "
                                f"{profile.caller_controls!r} is not in this document")
        add_params(child(profiles_el, "profile", {"name": profile.name}), pairs,
                   where=f"conference profile {profile.name} ")
    return render(doc)
