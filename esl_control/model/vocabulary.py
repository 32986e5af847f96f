"""The names Pult and FreeSWITCH share — one place for each.

Channel variables: the provisioning answers (``fs_config``: directory, dialplan, gateways) set
them on a call; the call side (``esl_control``: call records, the outbound socket, the call
engine) and billing read them back. In an ESL event a channel variable ``x`` arrives as the header
``variable_x`` (:func:`event_header`).

Generated FreeSWITCH object names: the gateways of active SIP numbers and trunks
(``pult_num_<number id>``, ``pult_trunk_<trunk id>``), the operator's platform gateways to the
upstream carriers (``pult_platform_<id>``, the engine dials external numbers through them), all on
the sofia profile
:data:`GATEWAY_PROFILE`), a conference room's profile (``pult_room_<room id>``) and the
``acl.conf`` lists Pult writes.
"""
from __future__ import annotations

import re

#: every channel variable Pult sets starts with this (call records keep them all)
VARIABLE_PREFIX = "pult_"

# -- channel variables ------------------------------------------------------------------------
PBX_ID = "pult_pbx_id"                      # the tenant PBX of the call
CONTEXT = "pult_context"                    # the dialplan context FreeSWITCH asked about
DESTINATION_NUMBER = "pult_destination_number"
SOURCE = "pult_source"                      # where the call came from: SOURCES
DOMAIN = "pult_domain"                      # the calling SIP account's domain …
USER = "pult_user"                          # … and login
SIP_ACCOUNT_ID = "pult_sip_account_id"
EMPLOYEE_ID = "pult_employee_id"
EXTENSION = "pult_extension"                # directory: the user's extension
FORWARD_TO = "pult_forward_to"              # directory: where the user's calls are forwarded
NUMBER_ID = "pult_number_id"                # an inbound call on a PBX number …
NUMBER = "pult_number"                      # … its number …
NUMBER_KIND = "pult_number_kind"            # … and kind (platform, passive / active SIP)
TRUNK_ID = "pult_trunk_id"                  # an inbound call from a customer's trunk
SCHEME_ID = "pult_scheme_id"                # the scheme bound to the trunk number called
GROUP_ID = "pult_group_id"                  # the group a call was sent to (when the dialplan sets it)
DIRECTION = "pult_direction"                # billing direction set explicitly on a leg
PATH = "pult_path"                          # the call engine's decision path (JSON; the record's path)
VOICEMAIL = "pult_voicemail"                # the spool file of a voice mail the engine recorded
FAX = "pult_fax"                            # the spool file of a fax the engine received
HANDED_OFF = "pult_handed_off"              # the Pult instance (host:port) that stopped and handed the call on
FAX_TONE = "pult_fax_tone"                  # "true": the switch heard a calling fax tone (CNG)
LEG_TARGET = "pult_target"                  # on a leg the engine rings: who it is (the path's label)
LEG_TRUNK = "pult_via_trunk"                # on a leg into a tenant's trunk: the trunk's id

#: values of :data:`SOURCE`
SOURCE_INTERNAL = "internal"                # a Pult loopback leg or a call between the PBX's phones
SOURCE_SIP_USER = "sip_user"                # a registered phone of the PBX
SOURCE_NUMBER = "number"                    # a call to one of the PBX's numbers
SOURCE_TRUNK = "trunk"                      # a call from a customer's trunk
SOURCES = (SOURCE_INTERNAL, SOURCE_SIP_USER, SOURCE_NUMBER, SOURCE_TRUNK)


def event_header(variable: str) -> str:
    """The ESL event header carrying a channel variable: ``variable_<name>``."""
    return "variable_" + variable


# -- generated object names -------------------------------------------------------------------
#: the sofia profile the tenants' gateways are added to
GATEWAY_PROFILE = "external"
#: gateway names: ``pult_num_<number id>`` (active SIP number), ``pult_trunk_<trunk id>`` (trunk)
GATEWAY_NUMBER_PREFIX = "pult_num_"
GATEWAY_TRUNK_PREFIX = "pult_trunk_"
#: the operator's platform gateways (upstream carriers): ``pult_platform_<gateway id>``
GATEWAY_PLATFORM_PREFIX = "pult_platform_"
#: conference profile of a room: ``pult_room_<room id>``
ROOM_PROFILE_PREFIX = "pult_room_"
#: ``acl.conf`` lists: the Pult servers that may open the inbound Event Socket, every trunk's
#: address, and one per PBX whose SIP access is restricted (:func:`whitelist_list_name`)
ESL_ACL = "pult_esl"
TRUNKS_ACL = "pult_trunks"
SIP_WHITELIST_ACL_PREFIX = "pult_sip_"

_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def number_gateway(number_id: object) -> str:
    """The gateway of an active SIP number."""
    return f"{GATEWAY_NUMBER_PREFIX}{number_id}"


def trunk_gateway(trunk_id: object) -> str:
    """The gateway of a trunk."""
    return f"{GATEWAY_TRUNK_PREFIX}{trunk_id}"


def platform_gateway(gateway_id: object) -> str:
    """A platform gateway (the operator's upstream carrier)."""
    return f"{GATEWAY_PLATFORM_PREFIX}{gateway_id}"


def gateway_owner(name: str | None) -> tuple[str, str] | None:
    """``("number", id)`` / ``("trunk", id)`` / ``("platform", id)`` for a Pult gateway name,
    None for anything else."""
    if not name:
        return None
    for prefix, kind in ((GATEWAY_NUMBER_PREFIX, "number"), (GATEWAY_TRUNK_PREFIX, "trunk"),
                         (GATEWAY_PLATFORM_PREFIX, "platform")):
        if name.startswith(prefix) and _ID.match(name[len(prefix):]):
            return kind, name[len(prefix):]
    return None


def room_profile_name(room_id: str) -> str:
    """The conference profile of a room: the call flow joins ``<conference>@pult_room_<id>``."""
    if not _ID.match(room_id or ""):
        raise ValueError(f"room id {room_id!r}: expected letters, digits, '_' or '-'")
    return ROOM_PROFILE_PREFIX + room_id


def whitelist_list_name(pbx_id: int) -> str:
    """The ``acl.conf`` list holding a PBX's SIP whitelist."""
    return f"{SIP_WHITELIST_ACL_PREFIX}{int(pbx_id)}"
