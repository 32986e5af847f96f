"""The tenant telephony domain: document validation, defaults, the services the cabinet, the REST
API and jobs call, and the read model FreeSWITCH provisioning uses. No HTTP here (the edge is
``web/telephony``).

One subpackage per area, wazo-calld style — ``schemas.py`` (input -> clean document, field
errors as :class:`~esl_control.routing.errors.RuleError`) and ``services.py`` (the logic):

- ``calendars``    DayGroupService, ScheduleService
- ``numbers``      NumberService (platform DIDs, passive / active SIP, transfer), DidPoolService
- ``sip``          SipDomainService, SipAccountService, SipAccessService (IP whitelist)
- ``employees``    EmployeeService (telephony of the employee)
- ``groups``       GroupService
- ``pbx_settings`` PbxSettingsService (call handling, security)
- ``schemes``      SchemeService (tree documents, copy, rename, activate)
- ``lists``        ListService (black/white), ClientRuleService
- ``sounds``       SoundService (content-checked uploads, built-ins)
- ``conferences``  ConferenceRoomService
- ``trunks``       TrunkService (+ the ordered mask list), set_trunk_status

Shared: :mod:`.common` (errors NotFound / InUse, the service base, the extension namespace),
:mod:`.references` (who refers to what), :mod:`.crypto` (encrypted SIP passwords),
:mod:`.messages` (RU/EN texts), :mod:`.provisioning` (FreeSWITCH read model),
:mod:`.bootstrap` (a new PBX's defaults), :mod:`.quotas` (edition quotas and features).
"""
