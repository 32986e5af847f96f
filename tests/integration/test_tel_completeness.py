"""Rules of issue 4 found missing by the completeness audit (docs/issue4-rules.md), each with the
behaviour a tenant admin notices: the refusal and its message, or the default they get."""
from __future__ import annotations

from tests.integration.test_tel_services import ADMIN, db, raises  # noqa: F401  (db is a fixture)
from web.telephony.employees.services import EmployeeService
from web.telephony.schemes.services import SchemeService


# --- schemes ----------------------------------------------------------------------------------------
async def test_scheme_forward_to_an_employee_by_a_method_the_employee_does_not_have_is_refused(db):
    emp = await EmployeeService(db, 101, ADMIN).create({"name": "Иванов", "extension": "10", "contact_methods": [
        {"id": "mob", "kind": "phone", "value": "79121234567"}]})
    schemes = SchemeService(db, 101, ADMIN)

    def body(method):
        return {"name": "Day", "blocks": [{"steps": [
            {"kind": "forward", "target": {"type": "employee", "id": emp["id"], "method": method}}, {"kind": "hangup"}]}]}

    err = await raises("contact.unknown", schemes.create(body("desk")))
    assert "desk" in err.message("ru") and err.field == "forward.target.method"
    assert await schemes.list() == []
    ok = await schemes.create(body("mob"))
    assert ok["blocks"][0]["steps"][0]["target"]["method"] == "mob"
    await raises("contact.unknown", schemes.update(ok["id"], body("gone")))
