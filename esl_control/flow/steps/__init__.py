"""Step kinds of a scheme: one module per kind, each with ``async def run(step, ctx) -> outcome``
(see :mod:`esl_control.flow.engine`). Adding a kind means adding a file here."""
