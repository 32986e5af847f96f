"""The HTTP edge of the tenant telephony domain: per area ``http.py`` (REST API) and ``pages.py``
(cabinet pages), plus the shared ``api_common.py`` / ``pages_common.py``. They translate HTTP to the
services of :mod:`esl_control.model` (validation, defaults and logic live there)."""
