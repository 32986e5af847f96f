"""Access: roles and rights, their enforcement, API keys, the action log's reader.

- :mod:`web.rights` — cabinet sections × levels (none/view/edit), base roles, custom
  roles derived from them, :func:`~web.rights.rights_for` → ``Rights.can(section, level)``.
- :mod:`web.enforce` — what each route needs (declared with ``@route(..., section=,
  level=)`` / ``@operation(..., level=)``), checked in ``BaseHandler.prepare`` for every request;
  ``Authorization: Bearer`` API keys; the action-log actor of a request.
- IP whitelist entries: :mod:`esl_control.routing.acl` (the one parser, shared with SIP accounts).
- :mod:`web.access.roles` / :mod:`web.access.keys` / :mod:`web.access.log` — the services behind
  the roles editor, API keys and the action log; :mod:`web.access.api` and
  :mod:`web.access.pages` — their API endpoints and cabinet pages.
"""
