"""The SIP profiles Pult serves in ``sofia.conf``, and why Pult serves the whole file.

mod_sofia asks for ``sofia.conf`` as ONE document (at start-up, and again on ``sofia profile
<name> rescan|restart``) and uses only what the answer holds: an answer with just Pult's gateways
would leave FreeSWITCH without its SIP profiles. So Pult answers with the complete profile set:
the profiles below (FreeSWITCH's stock ``internal`` and ``external``, trimmed to what a Pult node
needs) with the tenants' gateways added to :data:`esl_control.model.vocabulary.GATEWAY_PROFILE`.

- ``internal`` (5060): tenants' phones REGISTER and call here. ``auth-calls`` makes every INVITE
  pass digest auth against Pult's directory, whose users carry ``user_context=vpbx<pbx id>``; the
  call is then routed in the tenant's own context (see :mod:`fs_config.dialplan`).
- ``external`` (5080): other operators and trunks. Active SIP numbers register from here, SIP
  trunks are OPTIONS-pinged from here; unauthenticated INVITEs land in ``public``, where Pult's
  dialplan identifies the number or trunk (or rejects the call).

Addresses and ports come from the node asking (its SIP settings: the operator console's values
over the ``sip`` part of its ``FREESWITCH_ESL`` entry, :mod:`esl_control.model.node_sip`): local ``sip-ip``/``rtp-ip``, the ``ext-sip-ip``/``ext-rtp-ip``
announced to the outside (NAT) and each profile's port; a node without them gets ``auto`` /
``auto-nat`` (mod_sofia's own guesses) and 5060/5080. Media time-outs are not profile settings
(mod_sofia 1.10 warns ``rtp-timeout-sec deprecated``): they are the ``media_timeout`` /
``media_hold_timeout`` variables (milliseconds) set in ``deploy/freeswitch/vars_pult.xml``.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from fs_config.configuration import SofiaProfile

#: The profile that holds the tenants' gateways (active SIP numbers and trunks).

#: Settings both stock profiles share (names as mod_sofia 1.10 reads them in ``config_sofia``).
_COMMON: dict[str, object] = {
    "debug": 0,
    "sip-trace": "no",
    "sip-capture": "no",
    "watchdog-enabled": "no",
    "context": "public",
    "dialplan": "XML",
    "dtmf-type": "rfc2833",
    "rfc2833-pt": 101,
    "dtmf-duration": 2000,
    "inbound-codec-prefs": "PCMA,PCMU",
    "outbound-codec-prefs": "PCMA,PCMU",
    "inbound-codec-negotiation": "generous",
    "rtp-timer-name": "soft",
    "sip-ip": "auto",
    "rtp-ip": "auto",
    "ext-sip-ip": "auto-nat",
    "ext-rtp-ip": "auto-nat",
    "hold-music": "local_stream://moh",
    "local-network-acl": "localnet.auto",
    "manage-presence": "false",
    "nonce-ttl": 60,
    "tls": "false",
}

#: FreeSWITCH's stock profiles as Pult needs them (no gateways: those come from the tenants).
DEFAULT_PROFILES: tuple[SofiaProfile, ...] = (
    SofiaProfile("internal", {
        **_COMMON,
        "sip-port": 5060,
        "auth-calls": "true",
        "auth-all-packets": "false",
        "inbound-reg-force-matching-username": "true",
        "challenge-realm": "auto_from",
        "apply-nat-acl": "nat.auto",
        "log-auth-failures": "true",
        "forward-unsolicited-mwi-notify": "false",
    }),
    SofiaProfile("external", {
        **_COMMON,
        "sip-port": 5080,
        "auth-calls": "false",
    }),
)

#: ``<global_settings>`` of the stock sofia.conf.
DEFAULT_GLOBAL_SETTINGS: dict[str, object] = {"log-level": 0, "debug-presence": 0}


def with_settings(profiles: Iterable[SofiaProfile], **changes: Mapping[str, object]) -> tuple[SofiaProfile, ...]:
    """``profiles`` with some settings changed per profile name (``None`` removes a setting).

    Raises ValueError naming a profile that is not in ``profiles``.
    """
    out = []
    names = set()
    for profile in profiles:
        names.add(profile.name)
        update = changes.get(profile.name)
        if update:
            merged = {**profile.settings, **update}
            profile = replace(profile, settings={k: v for k, v in merged.items() if v is not None})
        out.append(profile)
    unknown = sorted(set(changes) - names)
    if unknown:
        raise ValueError(f"no sofia profile named {', '.join(unknown)} (have {', '.join(sorted(names))})")
    return tuple(out)
