"""Billing: rating of calls and monthly fees (:mod:`.rating`), money helpers (:mod:`.money`),
the account ledger (:mod:`.ledger`) and document services (:mod:`.documents`).

Pure rules live in ``rating`` and ``money``; ``ledger`` and ``documents`` talk to storage through
``storage.repos.billing``. Celery tasks (written in ``jobs/``) call these functions.
"""
