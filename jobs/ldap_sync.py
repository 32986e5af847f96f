"""LDAP directory sync jobs (issue 13, PRODUCT.md §11): queue ``ldap``.

- ``jobs.ldap_sync.run(pbx_id, trigger)``: one sync of a PBX (:func:`esl_control.model.ldap.services.run_sync`:
  the directory is read completely, then the change set is applied). A run that records
  incidents e-mails them to the PBX's ``notify_email`` (once per run: the mail's idempotency key
  is the run id). A PBX that is not set up, turned off or already syncing is skipped, not retried.
- ``jobs.ldap_sync.due()``: the beat job (every :data:`DUE_EVERY` s) that queues the PBXs whose
  schedule (every 1/2/3/4/8/12 h or daily at a time) has come.
"""
from __future__ import annotations

import logging
from typing import Any

from esl_control.model.crypto import SecretBox
from esl_control.model.ldap.services import LdapService, due_pbxes, run_sync
from jobs import context, schedules
from jobs.app import app
from pult.errors import AppError
from pult.i18n import N_, translate

log = logging.getLogger("pult.jobs.ldap")

DUE_EVERY = 300
SUBJECT = N_("LDAP sync of PBX %(pbx)s: %(count)s incident(s)")
INTRO = N_("The LDAP directory sync of PBX %(pbx)s at %(at)s UTC recorded these incidents:")


def incident_mail(pbx_id: int, result: dict[str, Any], at: str) -> tuple[str, str]:
    """(subject, text) of the incidents e-mail: Russian first, then English."""
    count = len(result["incidents"])
    subject = translate("ru", SUBJECT, pbx=pbx_id, count=count)
    parts = []
    for lang in ("ru", "en"):
        lines = [translate(lang, INTRO, pbx=pbx_id, at=at), ""]
        lines += [f"- {LdapService.incident_view({'_id': '', **i}, lang)['message']}" for i in result["incidents"]]
        parts.append("\n".join(lines))
    return subject, "\n\n---\n\n".join(parts) + "\n"


@app.task(bind=True, name="jobs.ldap_sync.run")
def run(self, pbx_id: int, trigger: str = "manual") -> dict[str, Any]:
    """One sync of ``pbx_id``; returns ``{run_id, status, counters, incidents}``."""
    box = SecretBox.from_settings(context.settings())
    try:
        result = context.call_store(lambda store: run_sync(store.db, int(pbx_id), trigger, box=box), timeout=3600)
    except AppError as exc:  # not set up, turned off, already running: nothing to retry
        log.info("LDAP sync of PBX %s skipped: %s", pbx_id, exc.code)
        return {"status": "skipped", "reason": exc.code}
    if result["incidents"] and result.get("notify_email"):
        from jobs.mail import send_mail
        from pult import clock

        subject, text = incident_mail(int(pbx_id), result, clock.now().strftime("%Y-%m-%d %H:%M"))
        send_mail(result["notify_email"], subject, text, idempotency_key=f"ldap-incidents:{result['run_id']}")
    return {"run_id": result["run_id"], "status": result["status"], "counters": result["counters"],
            "incidents": len(result["incidents"])}


@app.task(bind=True, name="jobs.ldap_sync.due")
def due(self) -> list[int]:
    """Queue a run for every PBX whose scheduled sync is due."""
    pbxes = context.call_store(lambda store: due_pbxes(store.db))
    for pbx_id in pbxes:
        run.apply_async(args=(pbx_id, "schedule"))
    return pbxes


schedules.register("ldap.due", "jobs.ldap_sync.due", DUE_EVERY)
