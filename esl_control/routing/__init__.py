"""Pure telephony rules: number formats, trunk masks, black/white lists, schedules, directions and
the outbound route choice.

Everything in this package is plain, deterministic Python with no I/O (no storage, no network, no
clock unless a time is passed in), so the same functions serve the cabinet's validation, the live
call flow and the dry-run simulator (DESIGN.md, "Principles" 1). Validation failures raise
:class:`~esl_control.routing.errors.RuleError`, whose ``code`` and ``params`` the cabinet turns into
a message in the user's language and the API into a field error.

Modules:

- :mod:`.errors`     -- ``RuleError`` and the bilingual message table.
- :mod:`.numbers`    -- number formats (PRODUCT.md §4.6, seed 000 §3.3).
- :mod:`.masks`      -- trunk masks and number transformations (PRODUCT.md §4.5, inventory D §5.3.3).
- :mod:`.lists`      -- black/white lists and client-number routing (PRODUCT.md §3, inventory A §4.4.4-5).
- :mod:`.schedules`  -- day groups, schedules, scheme time blocks (PRODUCT.md §3, seed 000 §3.1-3.2).
- :mod:`.directions` -- direction of a dialled number and the allowed-directions check (PRODUCT.md §4.5).
- :mod:`.outbound`   -- the outbound route choice (PRODUCT.md §4.5, inventory D §5.3).
"""
from esl_control.routing.errors import MESSAGES, RuleError

__all__ = ["MESSAGES", "RuleError"]
