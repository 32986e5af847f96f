"""What the cabinet can do, and the /api/v1 operation that does the same (issue 13, "The API").

Every page of the route table (``kind == "page"``) and every action its POST tells apart (a form's
``action`` or ``kind`` field, found in the handler's code by :func:`page_actions`) is a key of
:data:`PARITY`:

- ``"GET /telephony/employees"`` — what the page shows;
- ``"POST /telephony/employees/{id}"`` — what its form does (the form posted with no ``action`` /
  ``kind``, or with one the handler does not single out: usually "save");
- ``"POST /operator/pbxes/{pbx_id} action=block"`` — one of the actions the handler singles out.

Its value names the operation ids of the OpenAPI document (``<handler class>_<method>``) that do
the same through the same use case, or :class:`CabinetOnly` with the reason there is none (signing
in, password recovery, UI helpers bound to the session or the CSRF token). tests/unit/
test_api_parity.py walks the route table: a page or an action missing here, an operation that does
not exist, or a tenant page whose counterpart an API key cannot call fails it.
"""
from __future__ import annotations

import ast
import functools
import inspect
import sys
from dataclasses import dataclass

#: the form fields whose value selects what a page's POST does
DISPATCH_FIELDS = ("action", "kind")
_FIELD_READERS = {"field", "arg", "opt", "get_body_argument"}


@dataclass(frozen=True)
class CabinetOnly:
    """A page or action with no API counterpart, and why."""

    reason: str


SIGN_IN = CabinetOnly("signing in happens in the browser; API clients sign in with POST /api/v1/session "
                      "or send an API key")
RECOVERY = CabinetOnly("the password recovery form of the browser; its API is the /api/v1/password/… "
                       "operations, which take the same data as JSON")
CONFIRM = CabinetOnly("the confirmation page shown before the POST; the API's DELETE needs none")

PARITY: dict[str, tuple[str, ...] | CabinetOnly] = {
    # --- signing in, out, recovery, language ----------------------------------------------------
    "GET /login": SIGN_IN,
    "POST /login": ("SessionApi_post",),
    "POST /logout": ("SessionApi_delete",),
    "POST /language": ("MeApi_patch",),
    "GET /captcha/{cid}.png": ("CaptchaApi_get",),
    "GET /password/reset": RECOVERY,
    "POST /password/reset": ("CodeRequestApi_post",),
    "GET /password/code/{flow}": RECOVERY,
    "POST /password/code/{flow}": ("CodeConfirmApi_post",),
    "GET /password/account": RECOVERY,
    "POST /password/account": ("AccountLinkRequestApi_post",),
    "GET /password/link/{token}": RECOVERY,
    "POST /password/link/{token}": ("LinkUseApi_post",),
    "GET /offer": CabinetOnly("the offer a person accepts while signing in to the cabinet; an API key "
                              "acts for a PBX whose administrator accepted it"),
    "POST /offer": CabinetOnly("declining the offer ends the browser's sign-in attempt (no session was "
                               "started yet)"),
    "POST /offer action=accept": CabinetOnly("the offer is accepted by a person, in the browser, on the "
                                             "way into the cabinet"),
    # --- the cabinet's own pages ----------------------------------------------------------------
    "GET /": ("DashboardApi_get",),
    "GET /calls": ("CallsApi_get", "CallApi_get"),
    "GET /calls/{uuid}": ("CallApi_get",),
    "GET /nodes": ("NodesApi_get",),
    "GET /account/security": ("SessionsApi_get",),
    "GET /account/password": CabinetOnly("a redirect to the security page"),
    "POST /account/password": ("PasswordApi_post",),
    "POST /account/sessions/{session_id}/end": ("SessionItemApi_delete",),
    # --- the operator console -------------------------------------------------------------------
    "GET /operator/accounts": ("OperatorAccountsApi_get",),
    "GET /operator/accounts/new": CabinetOnly("the empty form"),
    "POST /operator/accounts/new": ("OperatorAccountsApi_post",),
    "GET /operator/accounts/{account_id}": ("OperatorAccountApi_get",),
    "POST /operator/accounts/{account_id}": ("OperatorAccountApi_patch",),
    "POST /operator/accounts/{account_id} action=send_link": ("OperatorAccountLinkApi_post",),
    "GET /operator/pbxes": ("OperatorPbxesApi_get",),
    "GET /operator/pbxes/new": CabinetOnly("the empty form"),
    "POST /operator/pbxes/new": ("OperatorPbxesApi_post",),
    "GET /operator/pbxes/{pbx_id}": ("OperatorPbxApi_get",),
    "POST /operator/pbxes/{pbx_id}": ("OperatorPbxApi_patch",),
    "POST /operator/pbxes/{pbx_id} action=fees": ("OperatorPbxApi_patch",),
    "POST /operator/pbxes/{pbx_id} action=block": ("OperatorPbxBlockApi_post",),
    "POST /operator/pbxes/{pbx_id} action=unblock": ("OperatorPbxUnblockApi_post",),
    "POST /operator/pbxes/{pbx_id} action=convert": ("OperatorPbxConvertApi_post",),
    "POST /operator/pbxes/{pbx_id} action=archive": ("OperatorPbxArchiveApi_post",),
    "POST /operator/pbxes/{pbx_id} action=restore": ("OperatorPbxRestoreApi_post",),
    "GET /operator/editions": ("OperatorEditionsApi_get",),
    "GET /operator/editions/{code}": ("OperatorEditionsApi_get",),
    "POST /operator/editions/{code}": ("OperatorEditionsApi_post", "OperatorEditionApi_patch"),
    "GET /operator/numbers": ("OperatorDidPoolApi_get",),
    "POST /operator/numbers": CabinetOnly("a form without an action is refused (400)"),
    "POST /operator/numbers action=add": ("OperatorDidPoolApi_post",),
    "POST /operator/numbers action=assign": ("OperatorDidAssignApi_post",),
    "POST /operator/numbers action=release": ("OperatorDidReleaseApi_post",),
    "GET /operator/settings": ("OperatorSettingsApi_get",),
    "POST /operator/settings": ("OperatorSettingsApi_patch",),
    "GET /operator/nodes": ("NodesApi_get",),
    "GET /operator/nodes/{node}": ("OperatorNodeSipApi_get",),
    "POST /operator/nodes/{node}": ("OperatorNodeSipApi_put",),
    "GET /operator/gateways": ("OperatorPlatformGatewaysApi_get",),
    "POST /operator/gateways": CabinetOnly("a form without an action is refused (404)"),
    "POST /operator/gateways action=up": ("OperatorPlatformGatewaysApi_put",),      # the list in its new order
    "POST /operator/gateways action=delete": ("OperatorPlatformGatewaysApi_put",),  # the list without it
    "GET /operator/gateways/{gateway_id}": ("OperatorPlatformGatewaysApi_get",),
    "POST /operator/gateways/{gateway_id}": ("OperatorPlatformGatewaysApi_put",),   # the list with it added/changed
    "GET /operator/integration-keys": ("IntegrationKeysApi_get",),
    "POST /operator/integration-keys": ("IntegrationKeysApi_post",),
    "POST /operator/integration-keys/{key_id}/revoke": ("IntegrationKeyApi_delete",),
    "GET /operator/tariffs": ("OperatorTariffsApi_get",),
    "GET /operator/tariffs/{code}": ("OperatorTariffApi_get",),
    "POST /operator/tariffs/{code}": ("OperatorTariffsApi_post", "OperatorTariffApi_put"),
    "POST /operator/tariffs/{code} action=default": ("OperatorSettingsApi_patch",),
    # --- the account panel ----------------------------------------------------------------------
    "GET /account": ("AccountApi_get", "AccountContactsApi_get", "AccountRequisitesApi_get"),
    "POST /account": CabinetOnly("a form without an action is refused (400)"),
    "POST /account action=contacts": ("AccountContactsApi_put",),
    "POST /account action=requisites": ("AccountRequisitesApi_put",),
    "POST /account action=switch": CabinetOnly("chooses which PBX of the account the signed-in account "
                                               "administrator's cabinet shows; an API key belongs to one PBX"),
    "POST /account action=convert": ("AccountPbxConvertApi_post",),
    "GET /account/login-settings": ("LoginSettingsApi_get",),
    "POST /account/login-settings": ("LoginSettingsApi_put",),
    # --- access: roles, users, API keys, the action log ----------------------------------------
    "GET /access/roles": ("RolesApi_get", "AccessSettingsApi_get"),
    "GET /access/roles/new": ("SectionsApi_get",),
    "POST /access/roles/new": ("RolesApi_post",),
    "GET /access/roles/{role_id}": ("RoleApi_get",),
    "POST /access/roles/{role_id}": ("RoleApi_patch",),
    "POST /access/roles/{role_id}/delete": ("RoleApi_delete",),
    "POST /access/roles/{role_id}/copy": ("RoleCopyApi_post",),
    "GET /access/admin-password": ("RolesApi_get", "AccessSettingsApi_get"),  # the roles page again
    "POST /access/admin-password": ("AdminPasswordLinkApi_post",),
    "GET /access/users": ("AccessUsersApi_get",),
    "GET /access/users/{user_id}": ("AccessUserApi_get",),
    "POST /access/users/{user_id}": ("AccessUserApi_patch",),
    "GET /access/api-keys": ("ApiKeysApi_get",),
    "POST /access/api-keys": ("ApiKeysApi_post",),
    "POST /access/api-keys/{key_id}/revoke": ("ApiKeyApi_delete",),
    "GET /access/log": ("ActionLogApi_get", "ActionLogExportApi_get"),
    # --- calendars ------------------------------------------------------------------------------
    "GET /telephony/schedules": ("ScheduleListApi_get", "DayGroupListApi_get"),
    "GET /telephony/day-groups/new": CabinetOnly("the empty form"),
    "POST /telephony/day-groups/new": ("DayGroupListApi_post",),
    "GET /telephony/day-groups/{id}": ("DayGroupApi_get", "DayGroupHolidaysApi_get"),
    "POST /telephony/day-groups/{id}": ("DayGroupApi_put",),
    "GET /telephony/day-groups/{id}/delete": CONFIRM,
    "POST /telephony/day-groups/{id}/delete": ("DayGroupApi_delete",),
    "GET /telephony/schedules/new": CabinetOnly("the empty form"),
    "POST /telephony/schedules/new": ("ScheduleListApi_post",),
    "GET /telephony/schedules/{id}": ("ScheduleApi_get",),
    "POST /telephony/schedules/{id}": ("ScheduleApi_put",),
    "GET /telephony/schedules/{id}/delete": CONFIRM,
    "POST /telephony/schedules/{id}/delete": ("ScheduleApi_delete",),
    # --- employees ------------------------------------------------------------------------------
    "GET /telephony/employees": ("EmployeeListApi_get",),
    "GET /telephony/employees/{id}": ("EmployeeApi_get",),
    "POST /telephony/employees/{id}": ("EmployeeApi_put",),
    "GET /telephony/employees/{id}/delete": CONFIRM,
    "POST /telephony/employees/{id}/delete": ("EmployeeApi_delete",),
    "GET /telephony/employees/new": CabinetOnly("the empty wizard"),
    "POST /telephony/employees/new": ("EmployeeWizardApi_post",),
    # --- call groups ----------------------------------------------------------------------------
    "GET /telephony/groups": ("GroupListApi_get",),
    "GET /telephony/groups/new": CabinetOnly("the empty form"),
    "POST /telephony/groups/new": ("GroupListApi_post",),
    "GET /telephony/groups/{id}": ("GroupApi_get", "GroupMembersApi_get"),
    "POST /telephony/groups/{id}": ("GroupApi_put", "GroupMembersApi_put"),
    "GET /telephony/groups/{id}/delete": CONFIRM,
    "POST /telephony/groups/{id}/delete": ("GroupApi_delete",),
    # --- SIP ------------------------------------------------------------------------------------
    "GET /telephony/sip": ("SipAccountListApi_get",),
    "GET /telephony/sip/accounts/new": CabinetOnly("the empty form"),
    "POST /telephony/sip/accounts/new": ("SipAccountListApi_post",),
    "GET /telephony/sip/accounts/{id}": ("SipAccountApi_get",),
    "POST /telephony/sip/accounts/{id}": ("SipAccountApi_put",),
    "GET /telephony/sip/accounts/{id}/delete": CONFIRM,
    "POST /telephony/sip/accounts/{id}/delete": ("SipAccountApi_delete",),
    "GET /telephony/sip/accounts/{id}/password": CabinetOnly("a redirect to the account's page"),
    "POST /telephony/sip/accounts/{id}/password": ("AccountPasswordApi_get",),
    "GET /telephony/sip/domains": ("SipDomainListApi_get",),
    "POST /telephony/sip/domains": ("SipDomainListApi_post",),
    "GET /telephony/sip/domains/{id}/delete": ("SipDomainApi_get",),
    "POST /telephony/sip/domains/{id}/delete": ("SipDomainApi_delete",),
    "GET /telephony/sip/domains/{id}/rename": ("SipDomainApi_get",),
    "POST /telephony/sip/domains/{id}/rename": ("SipDomainApi_patch",),
    "GET /telephony/sip/whitelist": ("SipAccessApi_get",),
    "POST /telephony/sip/whitelist": ("SipAccessApi_put",),
    "GET /telephony/sip/display": ("SipDisplaySettingsApi_get",),
    "POST /telephony/sip/display": ("SipDisplaySettingsApi_put",),
    # --- numbers --------------------------------------------------------------------------------
    "GET /telephony/numbers": ("NumberListApi_get", "NumberPoolApi_get"),
    "GET /telephony/numbers/status": ("NumberListApi_get",),
    "GET /telephony/numbers/add": ("NumberListApi_get", "NumberPoolApi_get"),  # the numbers page again
    "POST /telephony/numbers/add": CabinetOnly("a form without a kind is refused (422 naming the kinds)"),
    "POST /telephony/numbers/add kind=platform": ("NumberAssignApi_post",),
    "POST /telephony/numbers/add kind=passive_sip": ("NumberPassiveApi_post",),
    "POST /telephony/numbers/add kind=active_sip": ("NumberActiveApi_post",),
    "GET /telephony/numbers/transfer": ("NumberListApi_get",),  # the numbers page again
    "POST /telephony/numbers/transfer": ("NumberTransferApi_post",),
    "GET /telephony/numbers/{id}": ("NumberApi_get",),
    "POST /telephony/numbers/{id}": ("NumberApi_put",),
    "GET /telephony/numbers/{id}/delete": CONFIRM,
    "POST /telephony/numbers/{id}/delete": ("NumberApi_delete",),
    # --- trunks ---------------------------------------------------------------------------------
    "GET /telephony/trunks": ("TrunkListApi_get",),
    "GET /telephony/trunks/routing": ("TrunkMasksApi_get",),
    "POST /telephony/trunks/routing": ("TrunkMasksApi_put",),
    "POST /telephony/trunks/routing action=test": ("RouteTestApi_post",),
    "GET /telephony/trunks/new": CabinetOnly("the empty form"),
    "POST /telephony/trunks/new": ("TrunkListApi_post",),
    "GET /telephony/trunks/{id}": ("TrunkApi_get",),
    "POST /telephony/trunks/{id}": ("TrunkApi_put",),
    "GET /telephony/trunks/{id}/delete": CONFIRM,
    "POST /telephony/trunks/{id}/delete": ("TrunkApi_delete",),
    # --- black and white lists, client-number rules ---------------------------------------------
    "GET /telephony/lists": ("ListEntryListApi_get", "ListModeApi_get"),
    "POST /telephony/lists": ("ListEntryListApi_post",),
    "GET /telephony/lists/mode": CabinetOnly("a redirect to the lists page"),
    "POST /telephony/lists/mode": ("ListModeApi_put",),
    "GET /telephony/lists/entries/{id}/delete": CONFIRM,
    "POST /telephony/lists/entries/{id}/delete": ("ListEntryApi_delete",),
    "GET /telephony/client-rules": ("ClientRuleListApi_get",),
    "POST /telephony/client-rules": ("ClientRuleOrderApi_post",),
    "GET /telephony/client-rules/new": CabinetOnly("the empty form"),
    "POST /telephony/client-rules/new": ("ClientRuleListApi_post",),
    "GET /telephony/client-rules/{id}": ("ClientRuleApi_get",),
    "POST /telephony/client-rules/{id}": ("ClientRuleApi_put",),
    "GET /telephony/client-rules/{id}/delete": CONFIRM,
    "POST /telephony/client-rules/{id}/delete": ("ClientRuleApi_delete",),
    # --- conferences ----------------------------------------------------------------------------
    "GET /telephony/conferences": ("ConferenceRoomListApi_get",),
    "GET /telephony/conferences/new": CabinetOnly("the empty form"),
    "POST /telephony/conferences/new": ("ConferenceRoomListApi_post",),
    "GET /telephony/conferences/{id}": ("ConferenceRoomApi_get",),
    "POST /telephony/conferences/{id}": ("ConferenceRoomApi_put",),
    "GET /telephony/conferences/{id}/delete": CONFIRM,
    "POST /telephony/conferences/{id}/delete": ("ConferenceRoomApi_delete",),
    # --- PBX settings ---------------------------------------------------------------------------
    "GET /telephony/settings": ("CallHandlingApi_get",),
    "POST /telephony/settings": ("CallHandlingApi_put",),
    "GET /telephony/security": ("SecuritySettingsApi_get",),
    "POST /telephony/security": ("SecuritySettingsApi_put",),
    "GET /telephony/settings/voicemail": ("VoicemailSettingsApi_get",),
    "POST /telephony/settings/voicemail": ("VoicemailSettingsApi_put",),
    "GET /telephony/settings/fax": ("FaxSettingsApi_get",),
    "POST /telephony/settings/fax": ("FaxSettingsApi_put",),
    "GET /telephony/settings/recording": ("RecordingSettingsApi_get",),
    "POST /telephony/settings/recording": ("RecordingSettingsApi_put",),
    "GET /telephony/settings/prompts": ("PromptsSettingsApi_get",),
    "POST /telephony/settings/prompts": ("PromptsSettingsApi_put",),
    # --- schemes, sounds, check a call ----------------------------------------------------------
    "GET /telephony/schemes": ("SchemeListApi_get",),
    "POST /telephony/schemes": ("SchemeListApi_post",),
    "GET /telephony/schemes/{scheme_id}": ("SchemeApi_get", "SchemeApi_put", "SchemeNumbersApi_get",
                                           "SchemeTrunkNumbersApi_get"),
    "POST /telephony/schemes/{scheme_id}/copy": ("SchemeCopyApi_post",),
    "POST /telephony/schemes/{scheme_id}/rename": ("SchemeRenameApi_post",),
    "POST /telephony/schemes/{scheme_id}/delete": ("SchemeApi_delete",),
    "POST /telephony/schemes/{scheme_id}/numbers": ("SchemeActivateApi_post", "NumberSchemeApi_put",
                                                    "SchemeTrunkNumbersApi_put"),
    "GET /telephony/sounds": ("SoundsApi_get", "SoundsApi_post"),
    "GET /telephony/sounds/{sound_id}": ("SoundApi_get", "SoundAudioApi_get"),
    "POST /telephony/sounds/{sound_id}": ("SoundApi_patch",),
    "POST /telephony/sounds/{sound_id}/delete": ("SoundApi_delete",),
    "POST /telephony/sounds/{sound_id}/convert": ("SoundConvertApi_post",),
    "GET /telephony/check-call": ("DryRunApi_post",),
    # --- finance --------------------------------------------------------------------------------
    "GET /finance": ("BalanceApi_get", "AdviceApi_get", "DocumentsApi_get", "DocumentsApi_post", "DocumentApi_get",
                     "DocumentFileApi_get", "DocumentEmailApi_post", "ExpensesApi_get", "PaymentsReportApi_get",
                     "NotificationsApi_get", "NotificationsApi_put", "AccountPaymentsApi_post", "TariffApi_get",
                     "EditionApi_get"),
    "GET /finance/top-up": ("BalanceApi_get", "AdviceApi_get", "DocumentsApi_post", "DocumentFileApi_get"),
    "POST /finance/tariff": ("TariffApi_post",),
    "POST /finance/edition": ("EditionApi_post",),
    # --- integrations ---------------------------------------------------------------------------
    "GET /integrations/webhooks": ("WebhookListApi_get", "WebhookEventTypesApi_get"),
    "POST /integrations/webhooks": ("WebhookListApi_post",),
    "POST /integrations/webhooks action=test": ("WebhookTestApi_post",),
    "GET /integrations/webhooks/{id}": ("WebhookApi_get", "WebhookDeliveriesApi_get", "WebhookDeliveryApi_get"),
    "POST /integrations/webhooks/{id}": ("WebhookApi_put",),
    "POST /integrations/webhooks/{id} action=test": ("WebhookSavedTestApi_post",),
    "POST /integrations/webhooks/{id} action=rotate": ("WebhookSecretApi_post",),
    "GET /integrations/webhooks/{id}/delete": CabinetOnly("a redirect to the webhook's page"),
    "POST /integrations/webhooks/{id}/delete": ("WebhookApi_delete",),
    "GET /integrations/webhooks/{id}/deliveries/{delivery_id}/redeliver": CabinetOnly(
        "a redirect to the webhook's page"),
    "POST /integrations/webhooks/{id}/deliveries/{delivery_id}/redeliver": ("WebhookRedeliverApi_post",),
    "GET /integrations/ldap": ("LdapSettingsApi_get", "LdapRunsApi_get", "LdapIncidentsApi_get",
                               "LdapIncidentApi_get", "LdapLinksApi_get"),
    "POST /integrations/ldap/example": ("LdapSettingsApi_put", "LdapExampleApi_post"),
    "POST /integrations/ldap/links": ("LdapLinksApi_post",),
    "GET /integrations/ldap/links/{id}": ("LdapLinksApi_get",),
    "POST /integrations/ldap/links/{id}": CabinetOnly("answers 400: the form always names its action"),
    "POST /integrations/ldap/links/{id} action=stop": ("LdapLinkApi_patch",),
    "POST /integrations/ldap/links/{id} action=resume": ("LdapLinkApi_patch",),
    "POST /integrations/ldap/links/{id} action=unlink": ("LdapLinkApi_delete",),
    "POST /integrations/ldap": ("LdapSettingsApi_put",),
    "POST /integrations/ldap/sync": ("LdapSyncApi_post",),
    "POST /integrations/ldap/check": ("LdapCheckApi_post",),
}

#: page POSTs that change nothing (their counterpart is a read), and why they are POSTs
READ_BY_POST = {
    "POST /telephony/sip/accounts/{id}/password": "shows the stored password: a POST keeps it out of URLs, "
                                                  "page caches and GET logs",
}


def _action_reader(node: ast.AST) -> str | None:
    """``self.field("action")`` and the like → ``"action"``."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _FIELD_READERS
            and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in DISPATCH_FIELDS):
        return node.args[0].value
    return None


def _strings(node: ast.AST) -> set[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return {e.value for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)}
    return set()


@functools.lru_cache(maxsize=None)
def _module_tree(module: str) -> ast.Module | None:
    try:
        return ast.parse(inspect.getsource(sys.modules[module]))
    except (KeyError, OSError, TypeError):
        return None


def _class_tree(module: str, name: str) -> ast.ClassDef | None:
    tree = _module_tree(module)
    return next((n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == name), None) \
        if tree is not None else None


def page_actions(handler: type) -> set[tuple[str, str]]:
    """``{(field, value)}``: the values of a dispatch field (:data:`DISPATCH_FIELDS`) the handler's
    code (its class and its bases in ``web``) compares against — ``if self.arg("action") == "block"``,
    ``action = self.field("action")`` … ``if action in ("archive", "restore")``."""
    out: set[tuple[str, str]] = set()
    for klass in handler.__mro__:
        if not klass.__module__.startswith("web."):
            continue
        tree = _class_tree(klass.__module__, klass.__name__)
        if tree is None:
            continue
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            bound: dict[str, str] = {}  # local name → the field it was read from
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign):
                    pairs = [(t, node.value) for t in node.targets]
                    if isinstance(node.value, ast.Tuple) and node.targets and isinstance(node.targets[0], ast.Tuple):
                        pairs = list(zip(node.targets[0].elts, node.value.elts))
                    for target, value in pairs:
                        name = _action_reader(value)
                        if name and isinstance(target, ast.Name):
                            bound[target.id] = name
            for node in ast.walk(fn):
                if not isinstance(node, ast.Compare):
                    continue
                name = _action_reader(node.left) or (bound.get(node.left.id) if isinstance(node.left, ast.Name)
                                                     else None)
                if name:
                    for comparator in node.comparators:
                        out |= {(name, v) for v in _strings(comparator)}
    return out


def page_keys(routes) -> list[str]:
    """Every key :data:`PARITY` must have for the pages of ``routes``."""
    keys = []
    for info in routes:
        if info.kind != "page":
            continue
        for method in info.methods:
            keys.append(f"{method} {info.path}")
            if method == "POST":
                keys += [f"POST {info.path} {f}={v}" for f, v in sorted(page_actions(info.handler))]
    return keys
