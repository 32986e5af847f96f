"""The action log's «Changes» column in words (page, API and exports): field names in the user's
language with old → new values, e.g. ``Ring time: 20 → 30; Features: Faxes: no → yes``.

The services log the documents they change as they are stored (``before``/``after``, see
``storage.repos.audit``); this module only describes them. Bookkeeping fields (ids, ``created_at``,
``updated_at``, normalised copies) are left out; dates are shown in the user's time zone; a field
the labels below do not know yet is shown by its key in words (``ring_time`` → "Ring time").
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Mapping

from pult.i18n import N_
from web.rights import SECTIONS_BY_KEY

#: keys never shown: identifiers and bookkeeping, not something a user changed
HIDDEN = frozenset({"_id", "id", "pbx_id", "account_id", "created_at", "updated_at", "a1_hash", "media_id",
                    "domain_id", "sip_domain_id", "path", "session_version", "password_hash"})

#: field names as the cabinet's forms call them
FIELD_LABELS: dict[str, str] = {
    "name": N_("Name"), "description": N_("Description"), "comment": N_("Comment"), "status": N_("Status"),
    "kind": N_("Kind"), "type": N_("Type"), "number": N_("Number"), "numbers": N_("Numbers"),
    "extension": N_("Extension"), "email": N_("E-mail"), "login": N_("Login"), "role": N_("Role"),
    "role_name": N_("Role"), "language": N_("Language"), "time_zone": N_("Time zone"), "active": N_("Active"),
    "position": N_("Position"), "department": N_("Department"), "ring_time": N_("Ring time"),
    "default_ring_time": N_("Default ring time"), "strategy": N_("Ring strategy"), "members": N_("Members"),
    "queue": N_("Queue"), "enabled": N_("Enabled"), "mode": N_("Mode"), "max_wait": N_("Maximum wait"),
    "max_length": N_("Maximum length"), "hold_sound": N_("Hold music"), "entry_sound": N_("Entry message"),
    "overflow_sound": N_("Overflow message"), "announce_position": N_("Announce the position"),
    "announce_ewt": N_("Announce the expected wait"), "ringback": N_("Ringback"), "record": N_("Call recording"),
    "features": N_("Features"), "quotas": N_("Quotas"), "sections": N_("Rights"), "caller_id": N_("Caller ID"),
    "attempts": N_("Attempts"), "attempt_pause": N_("Pause between attempts"), "auto_callback": N_("Callback"),
    "tariff": N_("Tariff"), "edition": N_("Edition"), "scheme_id": N_("Call scheme"), "sip_domain": N_("SIP domain"),
    "domain": N_("Domain"), "requisites": N_("Requisites"), "contacts": N_("Contacts"), "phones": N_("Phones"),
    "emails": N_("E-mail addresses"), "person": N_("Contact person"), "inn": N_("INN"), "kpp": N_("KPP"),
    "ogrn": N_("OGRN"), "bik": N_("BIC"), "bank": N_("Bank"), "legal_address": N_("Legal address"),
    "postal_address": N_("Postal address"), "settlement_account": N_("Settlement account"),
    "corr_account": N_("Correspondent account"), "address": N_("Address"), "monthly_fee": N_("Monthly fee"),
    "prices": N_("Prices"), "whitelist": N_("IP whitelist"), "password": N_("Password"), "pin": N_("PIN"),
    "host": N_("Host"), "port": N_("Port"), "gateway": N_("Gateway"), "register": N_("Registration"),
    "codecs": N_("Codecs"), "lines": N_("Lines"), "target": N_("Target"), "target_kind": N_("Target"),
    "blocked": N_("Blocked"), "reason": N_("Reason"), "balance": N_("Balance"), "vat_rate": N_("VAT rate"),
    "supplier": N_("Supplier"), "weekdays": N_("Weekdays"), "intervals": N_("Time intervals"),
    "special_dates": N_("Special dates"), "entries": N_("Entries"), "masks": N_("Masks"), "seats": N_("Seats"),
    "operator_block": N_("Blocked by the operator"), "demo": N_("Demo period"), "format": N_("Format"),
    "filename": N_("File"), "duration": N_("Duration"), "size": N_("Size"), "directions": N_("Directions"),
    "allowed_directions": N_("Allowed directions"), "forward_to": N_("Forward to"), "employee_id": N_("Employee"),
    "default_number": N_("Default number"), "default_number_id": N_("Default number"),
    "display_number": N_("Displayed number"), "home_area": N_("Home area code"), "prefix": N_("Prefix"),
}
#: values of a field that the cabinet shows by a title (the forms' words), not by the stored key
VALUE_LABELS: dict[str, dict[str, str]] = {
    "strategy": {"sequential": N_("Sequential"), "simultaneous": N_("Simultaneous to all"),
                 "priority": N_("Parallel by priority"), "random": N_("Random"), "uniform": N_("Uniform")},
    "caller_id": {"caller": N_("The caller's number"), "line": N_("The PBX number the call came to")},
}
YES_NO = (N_("no"), N_("yes"))
ITEMS = N_("%(count)s items")


def field_label(key: str, translate: Callable[[str], str], parent: str | None = None) -> str:
    """The name of a field (``quotas.employees`` → "Employees", ``sections.calls`` → "Calls")."""
    from esl_control.model.quotas import FEATURE_LABELS, QUOTA_LABELS

    if parent == "features" and key in FEATURE_LABELS:
        return translate(FEATURE_LABELS[key])
    if parent == "quotas" and key in QUOTA_LABELS:
        return translate(QUOTA_LABELS[key])
    if parent == "sections" and key in SECTIONS_BY_KEY:
        return translate(SECTIONS_BY_KEY[key].title)
    if key in FIELD_LABELS:
        return translate(FIELD_LABELS[key])
    words = str(key).replace("_", " ").replace(".", " ").strip()
    return words[:1].upper() + words[1:] if words else str(key)


def _hidden(key: Any) -> bool:
    return str(key) in HIDDEN or str(key).endswith("_norm")


class Describer:
    """Describes changes for one reader: ``translate`` (their language) and ``tz`` (their zone)."""

    def __init__(self, translate: Callable[[str], str] | None = None, tz=None, lang: str = "en"):
        self.translate = translate or (lambda s: s)
        self.tz = tz or timezone.utc
        self.lang = lang

    def value(self, v: Any) -> str:
        if v is None or v == "" or v == [] or v == {}:
            return "—"
        if isinstance(v, bool):
            return self.translate(YES_NO[v])
        if isinstance(v, datetime):
            if v.tzinfo is None:
                v = v.replace(tzinfo=timezone.utc)
            fmt = "%d.%m.%Y %H:%M" if self.lang == "ru" else "%Y-%m-%d %H:%M"
            return v.astimezone(self.tz).strftime(fmt)
        if isinstance(v, Mapping):
            shown = {k: x for k, x in v.items() if not _hidden(k)}
            return "{" + ", ".join(f"{field_label(k, self.translate)}: {self.value(x)}" for k, x in shown.items()) + "}"
        if isinstance(v, (list, tuple)):
            if any(isinstance(x, (Mapping, list, tuple)) for x in v):
                return self.translate(ITEMS) % {"count": len(v)}
            return ", ".join(self.value(x) for x in v)
        return str(v)

    def field_value(self, key: Any, v: Any) -> str:
        """A top-level field's value: by its title where the forms show one (``strategy``)."""
        titles = VALUE_LABELS.get(str(key))
        if titles and isinstance(v, str) and v in titles:
            return self.translate(titles[v])
        return self.value(v)

    def listing(self, d: Mapping) -> str:
        """A created or deleted object: its fields and values."""
        return "; ".join(f"{field_label(k, self.translate)}: {self.field_value(k, v)}" for k, v in d.items()
                         if not _hidden(k) and v not in (None, "", [], {}))

    def diff(self, before: Any, after: Any) -> str:
        if isinstance(before, Mapping) and isinstance(after, Mapping):
            parts = []
            for k in dict.fromkeys([*before, *after]):
                old, new = before.get(k), after.get(k)
                if old == new or _hidden(k):
                    continue
                label = field_label(k, self.translate)
                if isinstance(old, Mapping) and isinstance(new, Mapping):
                    subs = [f"{field_label(sk, self.translate, parent=str(k))}: {self.value(old.get(sk))} → "
                            f"{self.value(new.get(sk))}"
                            for sk in dict.fromkeys([*old, *new]) if old.get(sk) != new.get(sk) and not _hidden(sk)]
                    if subs:
                        parts.append(f"{label}: " + ", ".join(subs))
                else:
                    parts.append(f"{label}: {self.field_value(k, old)} → {self.field_value(k, new)}")
            return "; ".join(parts)
        if before is None and isinstance(after, Mapping):
            return self.listing(after)
        if after is None and isinstance(before, Mapping):
            return self.listing(before)
        if before is None and after is None:
            return ""
        return f"{self.value(before)} → {self.value(after)}"


def describe_changes(before: Any, after: Any, translate: Callable[[str], str] | None = None, tz=None,
                     lang: str = "en") -> str:
    """``before`` → ``after`` in words for a reader of language ``lang`` in time zone ``tz``."""
    return Describer(translate, tz, lang).diff(before, after)
