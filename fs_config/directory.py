"""The ``directory`` section: a tenant SIP domain and its SIP accounts.

FreeSWITCH asks the directory when a phone REGISTERs or calls (``action=sip_auth``, with ``user``
and ``domain``), when a call is sent to ``user/<id>@<domain>`` (``action=user_call``) and for a
few other purposes. The answer is one ``<domain>`` holding the user(s) asked for::

    <document type="freeswitch/xml">
     <section name="directory">
      <domain name="vpbx7.pult.local">
       <params><param name="dial-string" value="..."/></params>
       <variables><variable name="pult_pbx_id" value="7"/></variables>
       <users>
        <user id="ivanov">
         <params><param name="a1-hash" value="<md5 of ivanov:vpbx7.pult.local:password>"/></params>
         <variables><variable name="user_context" value="vpbx7"/> ...</variables>
        </user>
       </users>
      </domain>
     </section>
    </document>

The password itself never goes on the wire: only ``a1-hash`` = md5("user:realm:password"),
which is what SIP digest needs and useless for logging into the cabinet. mod_sofia lets a user
with *neither* ``password`` nor ``a1-hash`` register without any check, so a user without a
password or hash is refused here rather than emitted.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from esl_control.model import vocabulary as vocab
from esl_control.model.crypto import a1_hash as _a1_hash
from fs_config.xml import XmlBuildError, add_params, child, document, render

#: How FreeSWITCH reaches a registered user (``user/<id>@<domain>``): every registered contact
#: of the user, with the domain kept in the INVITE. ``${...}`` is expanded by FreeSWITCH at call time.
DEFAULT_DIAL_STRING = ("{^^:sip_invite_domain=${dialed_domain}:presence_id=${dialed_user}@${dialed_domain}}"
                       "${sofia_contact(*/${dialed_user}@${dialed_domain})}")

_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


def a1_hash(user: str, realm: str, password: str) -> str:
    """The SIP digest HA1 (:func:`esl_control.model.crypto.a1_hash`), refused with
    :class:`XmlBuildError` for an empty user, realm or password."""
    try:
        return _a1_hash(user, realm, password)
    except ValueError as exc:
        raise XmlBuildError(str(exc)) from None


@dataclass(frozen=True)
class DirectoryDomain:
    """A tenant SIP domain (``vpbx<id>.<platform domain>`` or one of its extra domains).

    ``variables`` are inherited by every user of the domain (FreeSWITCH merges domain, group and
    user variables), so the PBX id is set once here.
    """

    name: str
    pbx_id: int | str | None = None
    dial_string: str | None = DEFAULT_DIAL_STRING
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DirectoryUser:
    """One SIP account of an employee.

    Give either the clear ``password`` (hashed here, never emitted) or a precomputed ``a1_hash``
    for ``user_id`` in this domain. ``auth_acl`` names an ``acl.conf`` list the phone's address
    must be in to register (the tenant's SIP whitelist, see :mod:`esl_control.routing.acl`).
    ``caller_id_*`` are what colleagues see on internal calls (``effective_caller_id_*``).
    """

    user_id: str
    password: str | None = field(default=None, repr=False)
    a1_hash: str | None = field(default=None, repr=False)
    extension: str | None = None
    employee_id: str | None = None
    user_context: str | None = None
    caller_id_name: str | None = None
    caller_id_number: str | None = None
    auth_acl: str | None = None
    max_registrations: int | None = None
    variables: Mapping[str, str] = field(default_factory=dict)

    def hash_for(self, realm: str) -> str:
        """The ``a1-hash`` for this user in ``realm``; raises XmlBuildError if it cannot be made."""
        if self.a1_hash is not None:
            if self.password is not None:
                raise XmlBuildError(f"user {self.user_id}: give password or a1_hash, not both")
            value = self.a1_hash.lower()
            if not _MD5_HEX.match(value):
                raise XmlBuildError(f"user {self.user_id}: a1_hash must be 32 hex digits")
            return value
        if self.password is None:
            raise XmlBuildError(f"user {self.user_id}: no password or a1_hash "
                                "(FreeSWITCH would let anyone register as this user)")
        return a1_hash(self.user_id, realm, self.password)


def _user_variables(user: DirectoryUser) -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = [
        ("user_context", user.user_context),
        ("effective_caller_id_name", user.caller_id_name),
        ("effective_caller_id_number", user.caller_id_number),
        (vocab.EXTENSION, user.extension),
        (vocab.EMPLOYEE_ID, user.employee_id),
    ]
    pairs.extend(user.variables.items())
    return pairs


def add_domain(section, domain: DirectoryDomain, users: Iterable[DirectoryUser]):
    """Append one ``<domain>`` with ``users`` to a directory ``<section>``; returns the element."""
    if not domain.name:
        raise XmlBuildError("domain.name: must not be empty")
    dom = child(section, "domain", {"name": domain.name})
    params = child(dom, "params")
    add_params(params, [("dial-string", domain.dial_string)], where=f"domain {domain.name} ")
    variables = child(dom, "variables")
    domain_vars: list[tuple[str, object]] = [(vocab.PBX_ID, domain.pbx_id)]
    domain_vars.extend(domain.variables.items())
    add_params(variables, domain_vars, tag="variable", where=f"domain {domain.name} ")
    users_el = child(dom, "users")
    seen: set[str] = set()
    for user in users:
        if not user.user_id:
            raise XmlBuildError(f"domain {domain.name}: a user has an empty id")
        if user.user_id in seen:
            raise XmlBuildError(f"domain {domain.name}: user {user.user_id} listed twice")
        seen.add(user.user_id)
        where = f"user {user.user_id}@{domain.name} "
        attrs = {"id": user.user_id}
        if user.extension:
            attrs["number-alias"] = user.extension
        u = child(users_el, "user", attrs, where=where)
        add_params(child(u, "params"), [
            ("a1-hash", user.hash_for(domain.name)),
            ("auth-acl", user.auth_acl),
            ("max-registrations-per-extension", user.max_registrations),
        ], where=where)
        add_params(child(u, "variables"), _user_variables(user), tag="variable", where=where)
    return dom


def build_directory(domain: DirectoryDomain, users: Iterable[DirectoryUser]) -> str:
    """The complete directory answer for one domain and the given users (usually the one asked for)."""
    doc, section = document("directory")
    add_domain(section, domain, users)
    return render(doc)
