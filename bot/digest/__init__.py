"""The daily digest: subscriptions, schedules, rotation, and the exactly-once runner.

Entry points: :class:`bot.digest.runner.DigestRunner` (the clock process),
:func:`bot.digest.command.handle_digest_command` (``/ai-race digest …``) and
:func:`bot.digest.cli.register_cli` (``ai-race digest run|list``).
"""
