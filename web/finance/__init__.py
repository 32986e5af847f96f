"""The cabinet's Finance section: API (:mod:`web.finance.api`), page (:mod:`web.finance.pages`)
and input validation (:mod:`web.finance.validation`). The billing work itself is in jobs/billing."""
