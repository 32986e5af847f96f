"""The JSON API under /api/v1 (conventions in web/api_base.py, document in web/openapi.py)."""
