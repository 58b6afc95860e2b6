"""``ai-race report feedback [--since DAYS] [--team T…] [--format …]`` (parsed in bot/cli.py)."""

from __future__ import annotations

import argparse
from datetime import timedelta

from bot.core.errors import EXIT_OK
from bot.feedback.report import ReportFormat, render
from bot.settings import load_settings
from bot.state.db import database_errors, database_exists, open_database
from bot.state.feedback import feedback_by_claim
from bot.state.models import utcnow


def cmd_feedback(args: argparse.Namespace) -> int:
    """Votes and notes per claim, for claim authors; TSV rows feed the evaluation."""
    fmt = ReportFormat(args.format)
    settings = load_settings(require_slack=False)
    entries = []
    if database_exists(settings.database_url):
        since = utcnow() - timedelta(days=args.since) if args.since else None
        engine = open_database(settings.database_url)
        with database_errors(settings.database_url):
            entries = feedback_by_claim(engine, since, team_id=args.team)
    print(render(entries, fmt))
    return EXIT_OK
