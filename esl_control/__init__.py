"""Pult's side of FreeSWITCH: event-socket connections, call control, call records.

- :mod:`esl_control.transport` — greenswitch in one gevent thread, bridged to asyncio.
- :mod:`esl_control.nodes` — :class:`NodeManager`: inbound ESL to every node, state, reconnects.
- :mod:`esl_control.outbound_server` — calls handed over by the dialplan ``socket`` application.
- :mod:`esl_control.cdr` — CHANNEL_HANGUP_COMPLETE → one stored call record.
- :mod:`esl_control.service` — :class:`EslService`, all of the above started/stopped together.
- :mod:`esl_control.routing` — pure routing rules (no I/O).

Importing this package imports nothing else (pure modules such as ``routing`` stay light).
"""
