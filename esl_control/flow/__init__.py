"""The call engine (issue 12): a scheme is a tree of steps walked by a small engine over a channel.

- :mod:`.channel` — the channel protocol (intent-level verbs) and the recording :class:`FakeChannel`;
- :mod:`.live` — :class:`LiveChannel` over the outbound Event Socket ``Call``;
- :mod:`.engine` — the walker; :mod:`.steps` — one module per step kind;
- :mod:`.targets` — groups, employees, external numbers, trunks, extensions;
- :mod:`.inbound` — PRODUCT.md §4.1's order and internal calls;
- :mod:`.runner` — the outbound server's FlowRunner; :mod:`.dryrun` — the same engine over the fake.

Importing this package does not import gevent.
"""
