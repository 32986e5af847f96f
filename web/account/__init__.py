"""The tenant's account side: the account panel, employees' login settings, the PBX state banner
and edition quotas (:mod:`web.account.quotas`, used by every service that creates things)."""
