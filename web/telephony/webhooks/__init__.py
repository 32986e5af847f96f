"""Webhooks of a PBX: the API (http.py) and the cabinet page (pages.py)."""
