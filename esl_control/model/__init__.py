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

# every area's schemas, so the reference table of :mod:`.references` is complete whatever module of
# the domain a caller imports first (each ``schemas.py`` declares its ``refs_of_*`` with ``@referrer``)
from esl_control.model.calendars import schemas as _calendars  # noqa: E402,F401
from esl_control.model.employees import schemas as _employees  # noqa: E402,F401
from esl_control.model.groups import schemas as _groups  # noqa: E402,F401
from esl_control.model.lists import schemas as _lists  # noqa: E402,F401
from esl_control.model.numbers import schemas as _numbers  # noqa: E402,F401
from esl_control.model.pbx_settings import schemas as _pbx_settings  # noqa: E402,F401
from esl_control.model.schemes import schemas as _schemes  # noqa: E402,F401
from esl_control.model.sip import schemas as _sip  # noqa: E402,F401
from esl_control.model.trunks import schemas as _trunks  # noqa: E402,F401
