"""LDAP directory sync settings of a PBX (PRODUCT.md §11, inventory D §4.6.7.5): input -> stored.

Stored (``ldap_settings``, ``_id`` = PBX id)::

    {enabled, host, port, security: none|ldaps|starttls, ca_cert (PEM, optional), timeout,
     bind_dn, password_enc (AES-GCM, bound to "ldap_settings:<pbx_id>"), base_dn, filter,
     mapping: {field: attribute}, policy: {create, update, deactivate}, notify_email,
     login: {enabled, attribute}, extension_start,
     schedule: {mode: manual|interval|daily, hours, time},
     exclusions: [DN | permanent id | login], defaults: {outgoing_number, reception_mode}, auto_sip}

- ``mapping`` maps employee-card fields (:data:`CARD_FIELDS`) to directory attributes; ``uid``
  is the attribute that identifies an entry for good (OpenLDAP ``entryUUID``, AD ``objectGUID``),
  so a renamed or moved entry (modrdn) stays the same employee; ``name`` is required.
- ``policy``: at least one of create new / update existing / deactivate absent must be on
  (inventory D §4.6.7.5 Step 4). Deactivating never deletes a card: it turns every contact method
  of an LDAP-managed employee absent from the directory off.
- ``schedule``: every 1/2/3/4/8/12 hours, daily at ``HH:MM`` in the PBX's time zone, or manual.
- ``exclusions`` (the inventory's "exclusion list", e.g. technical accounts): directory entries
  that never sync, named by DN (case and spaces around commas do not matter), permanent id or
  login; such an entry creates no card, changes none and is never matched to one.
- ``defaults``: what cards the sync creates get — the outgoing number (one of the PBX's lines,
  checked by the service; empty: none) and the reception mode (default ``simultaneous``, "ring
  all numbers at once"). ``auto_sip``: each created employee also gets a SIP account.
- The password is write-only: an input without ``password`` (or ``null``) keeps the stored one.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from esl_control.model.common import (clean_bool, clean_choice, clean_emails, clean_int, clean_list, clean_mapping,
                                      clean_text)
from esl_control.model.employees.schemas import RECEPTION_MODES, _clean_outgoing
from esl_control.routing.errors import RuleError, _register
from pult.i18n import N_

SECURITY = ("none", "ldaps", "starttls")
SCHEDULE_MODES = ("manual", "interval", "daily")
SCHEDULE_HOURS = (1, 2, 3, 4, 8, 12)
#: employee-card fields a directory attribute can fill (``uid``: the entry's permanent id;
#: ``login``: what a user types to sign in by LDAP bind)
CARD_FIELDS = ("uid", "name", "extension", "email", "mobile", "position", "department", "login")
#: OpenLDAP (inetOrgPerson) defaults and the "AD" button's Active Directory defaults
OPENLDAP_MAPPING = {"uid": "entryUUID", "name": "cn", "extension": "telephoneNumber", "email": "mail",
                    "mobile": "mobile", "position": "title", "department": "ou", "login": "uid"}
AD_MAPPING = {"uid": "objectGUID", "name": "displayName", "extension": "telephoneNumber", "email": "mail",
              "mobile": "mobile", "position": "title", "department": "department", "login": "sAMAccountName"}
DEFAULT_FILTER = "(objectClass=inetOrgPerson)"
_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}|\d+(\.\d+)+")
_TIME = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_DN_PART = re.compile(r"^[A-Za-z][A-Za-z0-9-]*=.+")
#: a subset of the DNs :func:`_clean_dn` accepts (the API documents it: every match passes)
_RDN = r"[A-Za-z][A-Za-z0-9-]*=[^,\s][^,\n]*"
DN_PATTERN = rf"^\s*{_RDN}(,\s*{_RDN})*\s*$"
DN_MAX = 1000

MESSAGES = {
    "ldap.host": N_("Enter the LDAP server's host name or IP address"),
    "ldap.dn": N_("'{value}' is not a distinguished name (expected e.g. dc=example,dc=org)"),
    "ldap.filter": N_("The search filter must be in parentheses with matching brackets, e.g. (objectClass=person)"),
    "ldap.attribute": N_("'{value}' is not an LDAP attribute name"),
    "ldap.mapping_name": N_("Map the employee's name to a directory attribute"),
    "ldap.policy_empty": N_("Choose at least one sync policy: create new, update existing or deactivate absent"),
    "ldap.schedule_hours": N_("Sync every 1, 2, 3, 4, 8 or 12 hours"),
    "ldap.schedule_time": N_("Time of the daily sync: HH:MM, e.g. 03:30"),
    "ldap.password_without_dn": N_("A bind password needs a bind DN"),
    "ldap.ca_cert": N_("The CA certificate must be PEM text (-----BEGIN CERTIFICATE-----)"),
    "ldap.exclusions_too_many": N_("The exclusion list holds at most {max} entries"),
    "ldap.entry_not_found": N_("No directory entry {dn} matches the search filter"),
    "ldap.entry_linked": N_("Directory entry {dn} is already matched to employee '{employee}'"),
    "ldap.entry_excluded": N_("Directory entry {dn} is in the exclusion list"),
    "ldap.employee_linked": N_("Employee '{employee}' is already matched to {dn}: delete that link first"),
    "ldap.not_linked": N_("Employee '{employee}' is not matched to a directory entry"),
    "ldap.not_configured": N_("LDAP sync is not set up for this PBX: save the connection settings first"),
    "ldap.disabled": N_("LDAP sync is turned off for this PBX"),
    "ldap.running": N_("A sync of this PBX is already running"),
    # incidents
    "ldap.unreachable": N_("The LDAP server could not be read, nothing was changed: {detail}"),
    "ldap.bind_failed": N_("The LDAP server refused the bind DN and password, nothing was changed: {detail}"),
    "ldap.entry_no_uid": N_("Directory entry {dn} has no {attribute} (its permanent id), skipped"),
    "ldap.entry_no_name": N_("Directory entry {dn} has no name ({attribute}), skipped"),
    "ldap.entry_duplicate": N_("Directory entries {dn} and {other} have the same id, both skipped"),
    "ldap.create_off": N_("Directory entry {dn} has no employee and creating employees is off"),
    "ldap.create_failed": N_("Employee for {dn} was not created: {reason}"),
    "ldap.update_failed": N_("Employee '{employee}' ({dn}) was not updated: {reason}"),
    "ldap.deactivate_failed": N_("Employee '{employee}' was not deactivated: {reason}"),
    "ldap.sip_created": N_("Employee '{employee}' got the SIP account {account}"),
    "ldap.sip_failed": N_("Employee '{employee}' was created without a SIP account: {reason}"),
    "ldap.field_ignored": N_("Employee '{employee}': the directory's {attribute} '{value}' is not accepted: {reason}"),
}
_register(MESSAGES)


def _clean_dn(value: Any, field: str, *, optional: bool = False) -> str:
    text = clean_text(value, field, 1000).strip() if value is not None else ""
    if not text:
        if optional:
            return ""
        raise RuleError("value.required", field=field)
    if not all(_DN_PART.match(p.strip()) for p in re.split(r"(?<!\\),", text)):
        raise RuleError("ldap.dn", field=field, value=text)
    return text


def _clean_filter(value: Any) -> str:
    text = (clean_text(value, "filter", 1000) if value is not None else "").strip() or DEFAULT_FILTER
    depth = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if depth < 0:
            break
    if depth != 0 or not (text.startswith("(") and text.endswith(")")):
        raise RuleError("ldap.filter", field="filter")
    return text


def _clean_mapping(value: Any) -> dict[str, str]:
    data = clean_mapping(value, "mapping") or {}
    out: dict[str, str] = {}
    for key in CARD_FIELDS:
        attr = data.get(key, OPENLDAP_MAPPING[key] if value is None else None)
        attr = (str(attr).strip() if attr is not None else "")
        if attr and not _ATTRIBUTE.fullmatch(attr):
            raise RuleError("ldap.attribute", field=f"mapping.{key}", value=attr)
        out[key] = attr
    unknown = [k for k in data if k not in CARD_FIELDS]
    if unknown:
        raise RuleError("value.choice", field="mapping", value=unknown[0], allowed=", ".join(CARD_FIELDS))
    if not out["name"]:
        raise RuleError("ldap.mapping_name", field="mapping.name")
    if not out["uid"]:
        raise RuleError("value.required", field="mapping.uid")
    return out


def _clean_schedule(value: Any) -> dict:
    data = clean_mapping(value, "schedule") or {}
    mode = clean_choice(data.get("mode"), "schedule.mode", SCHEDULE_MODES, default="manual")
    out: dict[str, Any] = {"mode": mode, "hours": None, "time": None}
    if mode == "interval":
        hours = data.get("hours")
        if isinstance(hours, str) and hours.strip().isdigit():
            hours = int(hours)
        if hours not in SCHEDULE_HOURS or isinstance(hours, bool):
            raise RuleError("ldap.schedule_hours", field="schedule.hours")
        out["hours"] = hours
    elif mode == "daily":
        time = str(data.get("time") or "").strip()
        if not _TIME.fullmatch(time):
            raise RuleError("ldap.schedule_time", field="schedule.time")
        out["time"] = time
    return out


def _clean_ca(value: Any) -> str:
    text = (str(value) if value is not None else "").strip()
    if text and "-----BEGIN CERTIFICATE-----" not in text:
        raise RuleError("ldap.ca_cert", field="ca_cert")
    if len(text) > 20000:
        raise RuleError("value.too_long", field="ca_cert", max=20000)
    return text


def clean_settings(data: Mapping[str, Any]) -> dict:
    """The settings without the password (the service encrypts it); raises :class:`RuleError`."""
    data = clean_mapping(data, "body", optional=False)
    host = clean_text(data.get("host"), "host", 255).strip()
    if not host or any(c.isspace() or c in "/:@" for c in host):
        raise RuleError("ldap.host", field="host")
    security = clean_choice(data.get("security"), "security", SECURITY, default="none")
    port = clean_int(data.get("port"), "port", 1, 65535, default=636 if security == "ldaps" else 389)
    policy_in = clean_mapping(data.get("policy"), "policy") or {}
    policy = {k: clean_bool(policy_in.get(k), f"policy.{k}", default=d)
              for k, d in (("create", True), ("update", True), ("deactivate", False))}
    if not any(policy.values()):
        raise RuleError("ldap.policy_empty", field="policy")
    login_in = clean_mapping(data.get("login"), "login") or {}
    emails = clean_emails(data.get("notify_email"), "notify_email")
    out = {
        "enabled": clean_bool(data.get("enabled"), "enabled", default=True),
        "host": host, "port": port, "security": security, "ca_cert": _clean_ca(data.get("ca_cert")),
        "timeout": clean_int(data.get("timeout"), "timeout", 1, 120, default=10),
        "bind_dn": _clean_dn(data.get("bind_dn"), "bind_dn", optional=True),
        "base_dn": _clean_dn(data.get("base_dn"), "base_dn"),
        "filter": _clean_filter(data.get("filter")),
        "mapping": _clean_mapping(data.get("mapping")),
        "policy": policy,
        "notify_email": ", ".join(emails),
        "login": {"enabled": clean_bool(login_in.get("enabled"), "login.enabled", default=False)},
        "extension_start": clean_int(data.get("extension_start"), "extension_start", 1, 99999, default=100),
        "schedule": _clean_schedule(data.get("schedule")),
        "exclusions": clean_exclusions(data.get("exclusions")),
        "defaults": _clean_defaults(data.get("defaults")),
        "auto_sip": clean_bool(data.get("auto_sip"), "auto_sip", default=False),
    }
    return out


EXCLUSIONS_MAX = 1000


def norm_dn(text: str) -> str:
    """A DN as compared: lower case, no spaces around the commas and equals signs."""
    return re.sub(r"\s*([,=])\s*", r"\1", text.strip()).lower()


def clean_exclusions(value: Any) -> list[str]:
    """The exclusion list: DNs, permanent ids or logins; blanks and repeats dropped, order kept."""
    if isinstance(value, str):
        value = value.splitlines()
    items = clean_list(value, "exclusions")
    out: list[str] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        text = clean_text(item, f"exclusions.{i}", 1000).strip() if item is not None else ""
        key = norm_dn(text)
        if text and key not in seen:
            seen.add(key)
            out.append(text)
    if len(out) > EXCLUSIONS_MAX:
        raise RuleError("ldap.exclusions_too_many", field="exclusions", max=EXCLUSIONS_MAX)
    return out


def _clean_defaults(value: Any) -> dict:
    data = clean_mapping(value, "defaults") or {}
    try:
        outgoing = _clean_outgoing(data.get("outgoing_number"))
    except RuleError as exc:
        exc.field = "defaults.outgoing_number"
        raise
    return {"outgoing_number": outgoing,
            "reception_mode": clean_choice(data.get("reception_mode") or None, "defaults.reception_mode",
                                           RECEPTION_MODES, default="simultaneous")}


def clean_password(value: Any) -> str | None:
    """``None``: keep the stored password; ``""``: anonymous bind; else the new password."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 1000:
        raise RuleError("value.too_long", field="password", max=1000)
    return value
