"""``ai-race corrections run [--dry-run]`` (registered by ``bot/cli.py``).

Posts, in every thread that cited a claim in the last 30 days, one reply for
each claim revised or withdrawn since, once per (thread, claim, revision).
``--dry-run`` prints what it would post and writes nothing: no database is
created or migrated, nothing is posted or recorded. Settings as for
``digest run`` (``DATABASE_URL``, ``SLACK_BOT_TOKEN`` or ``SLACK_CLIENT_ID``,
``SLACK_API_URL``, ``AI_RACE_CLAIMS``).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence

from slack_sdk import WebClient
from sqlalchemy import Engine, inspect

from bot.core.errors import EXIT_OK, EXIT_PROBLEMS
from bot.core.store import load_store
from bot.corrections.runner import CorrectionOutcome, CorrectionRunner
from bot.digest.kinds import OutcomeStatus
from bot.digest.runner import TokenSource
from bot.settings import Settings, load_settings
from bot.state.db import database_errors, database_exists, make_engine, open_database

BAD = frozenset({OutcomeStatus.ERROR, OutcomeStatus.FAILED, OutcomeStatus.UNKNOWN})


def make_runner(engine: Engine, settings: Settings, *, dry_run: bool) -> CorrectionRunner:
    """A runner with this deployment's token (or each workspace's installed token)."""
    tokens: TokenSource | None = None
    if settings.oauth is not None:
        from bot.install.tokens import InstalledTokens

        tokens = InstalledTokens(settings.oauth.client_id, engine)
        token = None
    elif dry_run:
        token = settings.bot_token or None
    else:
        token = settings.require_bot_token("it is needed to post; try --dry-run")
    client = WebClient(token=token, base_url=settings.api_url, retry_handlers=[])
    return CorrectionRunner(engine, client, tokens=tokens)


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings(require_slack=False)
    store = load_store(args.claims or settings.claims_dir)
    if not database_exists(settings.database_url):
        print("nothing to correct: no database yet, so no claim was posted in public")
        return EXIT_OK
    with database_errors(settings.database_url):
        if args.dry_run:  # read only: no migration, no ledger rows
            engine = make_engine(settings.database_url)
            tables = set(inspect(engine).get_table_names())
            if "claim_citations" not in tables:
                print("nothing to correct: no claim was posted in public yet")
                return EXIT_OK
            runner = make_runner(engine, settings, dry_run=True)
            ledger = "correction_deliveries" in tables
            outcomes = runner.run_once(store, dry_run=True, ledger=ledger)
        else:
            engine = open_database(settings.database_url)
            outcomes = make_runner(engine, settings, dry_run=False).run_once(store)
    return print_outcomes(outcomes, dry_run=args.dry_run)


def print_outcomes(outcomes: Sequence[CorrectionOutcome], *, dry_run: bool) -> int:
    """One line per correction (and its words, for a dry run); exit 1 if any failed."""
    for outcome in outcomes:
        plan = outcome.plan
        where = f"{plan.team_id}/{plan.channel_id} thread {plan.thread_ts} ({plan.claim_id})"
        if outcome.status == OutcomeStatus.WOULD_POST:
            print(f"would post in {where}:\n    {plan.text}")
            continue
        extra = f" ts={outcome.ts}" if outcome.ts else ""
        extra += f" error={outcome.error}" if outcome.error else ""
        print(f"{outcome.status}: {where}{extra}")
    counts = Counter(str(outcome.status) for outcome in outcomes)
    summary = ", ".join(f"{status} {n}" for status, n in sorted(counts.items()))
    print(f"corrections{' (dry run)' if dry_run else ''}: {summary or 'nothing to correct'}")
    return EXIT_PROBLEMS if any(o.status in BAD for o in outcomes) else EXIT_OK
