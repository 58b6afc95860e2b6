"""``python -m bot`` is the same as ``ai-race``."""

from bot.cli import main

raise SystemExit(main())
