"""SIP-style legs and registrations: what mod_sofia adds to a channel from a registered phone.

``sip_leg_variables`` gives the ~100 ``variable_*`` fields a call from a phone
registered on the ``internal`` profile carries at CHANNEL_CREATE, in the order
of ``inbound_sip_call_events`` (From/To/Contact/Via parts, digest
authorization, directory user, the offered SDP and the negotiated codec);
``answer_variables`` the media fields set when the call is answered.
``Registration`` renders ``sofia status profile internal reg`` and
``show registrations as json`` rows. Per-call random values (Call-ID, tags,
branch, SSRC, SDP session ids, media ports) are generated.
"""

from __future__ import annotations

import itertools
import random
import time
from dataclasses import dataclass, field

from .events import local_stamp

#: Codecs the recorded phone offered, in its order; the first one is used.
CODECS = {"PCMA": 8, "PCMU": 0}

_call_ids = itertools.count(15851)


def _sdp_offer(ip: str, rtp_port: int, codecs: list[str]) -> str:
    pts = " ".join(str(CODECS[c]) for c in codecs)
    lines = ["v=0", f"o=user1 {random.randint(10**7, 10**8 - 1)} {random.randint(10**9, 4 * 10**9)} IN IP4 {ip}",
             "s=-", f"c=IN IP4 {ip}", "t=0 0", f"m=audio {rtp_port} RTP/AVP {pts} 101"]
    lines += [f"a=rtpmap:{CODECS[c]} {c}/8000" for c in codecs]
    lines += ["a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15"]
    return "\r\n".join(lines) + "\r\n"


def _sdp_answer(ip: str, rtp_port: int, codec: str) -> str:
    session = int(time.time()) - 20320
    lines = ["v=0", f"o=FreeSWITCH {session} {session + 1} IN IP4 {ip}", "s=FreeSWITCH", f"c=IN IP4 {ip}",
             "t=0 0", f"m=audio {rtp_port} RTP/AVP {CODECS[codec]} 101", f"a=rtpmap:{CODECS[codec]} {codec}/8000",
             "a=rtpmap:101 telephone-event/8000", "a=fmtp:101 0-15", "a=ptime:20", "a=sendrecv"]
    return "\r\n".join(lines) + "\r\n"


@dataclass
class SipCall:
    """The SIP details of one call from a registered phone."""

    user: str
    domain: str
    destination: str
    display: str | None = None
    phone_ip: str = "127.0.0.1"
    phone_port: int = 5060
    codecs: list[str] = field(default_factory=lambda: ["PCMA", "PCMU"])
    call_id: str = ""
    from_tag: str = ""
    branch: str = ""
    phone_rtp_port: int = 6000
    local_rtp_port: int = 0

    def __post_init__(self) -> None:
        bad = [c for c in self.codecs if c not in CODECS]
        if bad or not self.codecs:
            raise ValueError(f"unsupported codecs {bad or self.codecs} (known: {', '.join(CODECS)})")
        n = next(_call_ids)
        self.call_id = self.call_id or f"1-{n}@{self.phone_ip}"
        self.from_tag = self.from_tag or f"{n}SIPpTag01{random.randint(1, 9)}"
        self.branch = self.branch or f"z9hG4bK-{n}-1-3"
        self.local_rtp_port = self.local_rtp_port or random.randrange(16384, 32768, 2)

    @property
    def codec(self) -> str:
        return self.codecs[0]


def sip_leg_variables(sip: SipCall, *, channel_name: str, invite_us: int,
                      request_block: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The variables of the new leg, in mod_sofia's order (after direction/uuid/call_uuid/session_id).

    ``request_block`` is the common header block of the directory request
    (REQUEST_PARAMS) made for the INVITE's digest auth: the leg keeps it as variables.
    """
    d, ip = sip.domain, sip.phone_ip
    codec_list = ",".join(f"CORE_PCM_MODULE.{c}@8000h@20i@64000b" for c in sip.codecs)
    from_full = (f'"{sip.display}" ' if sip.display else "") + f"<sip:{sip.user}@{d}>;tag={sip.from_tag}"
    v: list[tuple[str, str]] = [
        ("sip_from_user", sip.user), ("sip_from_uri", f"{sip.user}@{d}"), ("sip_from_host", d),
        ("video_media_flow", "disabled"), ("text_media_flow", "disabled"), ("channel_name", channel_name),
        ("sip_call_id", sip.call_id), ("sip_local_network_addr", "127.0.0.1"), ("sip_network_ip", ip),
        ("sip_network_port", str(sip.phone_port)), ("sip_invite_stamp", str(invite_us)),
        ("sip_received_ip", ip), ("sip_received_port", str(sip.phone_port)), ("sip_via_protocol", "udp"),
        ("sip_authorized", "true"),
    ]
    v += request_block  # the directory lookup's request leaves these behind (as recorded)
    v += [
        ("sip_number_alias", sip.user), ("sip_auth_username", sip.user), ("sip_auth_realm", d),
        ("number_alias", sip.user), ("requested_user_name", sip.user), ("requested_domain_name", d),
        ("user_context", "default"), ("user_name", sip.user), ("domain_name", d),
        ("sip_from_user_stripped", sip.user), ("sip_from_tag", sip.from_tag),
        ("sofia_profile_name", "internal"), ("sofia_profile_url", "sip:mod_sofia@127.0.0.1:5060"),
        ("recovery_profile_name", "internal"),
        ("sip_full_via", f"SIP/2.0/UDP {ip}:{sip.phone_port};branch={sip.branch}"),
    ]
    if sip.display:
        v.append(("sip_from_display", sip.display))
    v += [
        ("sip_full_from", from_full), ("sip_full_to", f"<sip:{sip.destination}@{d}>"),
        ("sip_req_user", sip.destination), ("sip_req_uri", f"{sip.destination}@{d}"), ("sip_req_host", d),
        ("sip_to_user", sip.destination), ("sip_to_uri", f"{sip.destination}@{d}"), ("sip_to_host", d),
        ("sip_contact_user", sip.user), ("sip_contact_port", str(sip.phone_port)),
        ("sip_contact_uri", f"{sip.user}@{ip}:{sip.phone_port}"), ("sip_contact_host", ip),
        ("sip_via_host", ip), ("sip_via_port", str(sip.phone_port)), ("max_forwards", "70"),
        ("switch_r_sdp", _sdp_offer(ip, sip.phone_rtp_port, sip.codecs)),
        ("ep_codec_string", codec_list), ("rtp_use_codec_string", ",".join(sip.codecs)),
        ("remote_video_media_flow", "inactive"), ("remote_text_media_flow", "inactive"),
        ("remote_audio_media_flow", "sendrecv"), ("audio_media_flow", "sendrecv"),
        ("remote_media_ip", ip), ("remote_media_port", str(sip.phone_rtp_port)),
        ("rtp_audio_recv_pt", str(CODECS[sip.codec])), ("rtp_use_codec_name", sip.codec),
        ("rtp_use_codec_rate", "8000"), ("rtp_use_codec_ptime", "20"), ("rtp_use_codec_channels", "1"),
        ("rtp_last_audio_codec_string", f"{sip.codec}@8000h@20i@1c"),
        ("read_codec", sip.codec), ("original_read_codec", sip.codec), ("read_rate", "8000"),
        ("original_read_rate", "8000"), ("write_codec", sip.codec), ("write_rate", "8000"),
        ("dtmf_type", "rfc2833"), ("endpoint_disposition", "RECEIVED"),
    ]
    return v


def answer_variables(sip: SipCall) -> list[tuple[str, str]]:
    """Set when the leg is answered (the 200 OK's SDP and the RTP session), in order."""
    return [
        ("rtp_local_sdp_str", _sdp_answer("127.0.0.1", sip.local_rtp_port, sip.codec)),
        ("local_media_ip", "127.0.0.1"), ("local_media_port", str(sip.local_rtp_port)),
        ("advertised_media_ip", "127.0.0.1"), ("rtp_use_pt", str(CODECS[sip.codec])),
        ("rtp_use_ssrc", str(random.randint(10**9, 2**32 - 1))), ("rtp_2833_send_payload", "101"),
        ("rtp_2833_recv_payload", "101"), ("remote_media_ip", sip.phone_ip),
        ("remote_media_port", str(sip.phone_rtp_port)),
    ]


@dataclass
class Registration:
    """A phone registered on the ``internal`` profile."""

    user: str
    domain: str
    ip: str = "127.0.0.1"
    port: int = 5060
    call_id: str = ""
    expires_at: int = 0  # epoch seconds
    agent: str = "unknown"

    def __post_init__(self) -> None:
        self.call_id = self.call_id or f"1-{next(_call_ids)}@{self.ip}"
        self.expires_at = self.expires_at or int(time.time()) + 120

    def status_text(self, hostname: str) -> str:
        """One block of ``sofia status profile internal reg``."""
        left = max(0, self.expires_at - int(time.time()))
        return (f"Call-ID:    \t{self.call_id}\nUser:       \t{self.user}@{self.domain}\n"
                f"Contact:    \t\"\" <sip:{self.user}@{self.ip}:{self.port}>\nAgent:      \t{self.agent}\n"
                f"Status:     \tRegistered(UDP)(unknown) EXP({local_stamp(self.expires_at * 1_000_000)}) "
                f"EXPSECS({left})\nPing-Status:\tReachable\nPing-Time:\t0.00\nHost:       \t{hostname}\n"
                f"IP:         \t{self.ip}\nPort:       \t{self.port}\nAuth-User:  \t{self.user}\n"
                f"Auth-Realm: \t{self.domain}\nMWI-Account:\t{self.user}@{self.domain}\n\n")

    def json_row(self, hostname: str) -> dict[str, str]:
        return {"reg_user": self.user, "realm": self.domain, "token": self.call_id,
                "url": f"sofia/internal/sip:{self.user}@{self.ip}:{self.port}", "expires": str(self.expires_at),
                "network_ip": self.ip, "network_port": str(self.port), "network_proto": "udp",
                "hostname": hostname, "metadata": ""}
