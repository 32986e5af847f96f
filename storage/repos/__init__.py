"""Repositories: one module per aggregate; every tenant repository is scoped (see base.py)."""
