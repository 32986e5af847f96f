"""The tenant's account side: the account panel, employees' login settings, the PBX state banner
and edition quotas (:mod:`esl_control.model.quotas`, used by every service that creates things)."""
