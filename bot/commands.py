"""Terminal commands over the claims: ``ask``, ``topics``, ``claims validate|stale``, reports.

Handlers for :mod:`bot.cli` (imported only when one of them runs). Each
returns the exit code and fails only through :mod:`bot.core.errors`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.core.catalog import Catalog, load_catalog
from bot.core.errors import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE
from bot.core.freshness import ago, load_freshness_config, stale_ids
from bot.core.render_text import WIDTH, compact_text, result_json, result_text
from bot.core.store import default_claims_dir, validate_dir
from bot.settings import Settings, load_settings


def _claims_dir(args: argparse.Namespace, settings: Settings) -> Path | None:
    return args.claims or settings.claims_dir


def _catalog(args: argparse.Namespace) -> Catalog:
    return load_catalog(_claims_dir(args, load_settings(require_slack=False)))


def terminal_width() -> int:
    """The terminal's columns (``$COLUMNS`` first), kept readable: 40 to 120."""
    return max(40, min(shutil.get_terminal_size((WIDTH, 24)).columns, 120))


def _blank(query: str) -> dict[str, Any]:
    return {"query": query, "matches": [], "suggestions": []}


def cmd_ask(args: argparse.Namespace) -> int:
    if not args.query and sys.stdin.isatty():
        # Nothing piped in: waiting for stdin would look like a hang.
        print(args.usage(), end="", file=sys.stderr)
        print("ai-race ask: give a query, or pipe one query per line", file=sys.stderr)
        return EXIT_USAGE
    catalog = _catalog(args)
    store, matcher = catalog.store, catalog.matcher
    width = terminal_width()

    def render(query: str) -> str:
        result = matcher.search(query, limit=args.limit)
        if args.compact:
            return compact_text(result, width)
        return result_text(store, result, width=width)

    def answer(query: str, batch: bool) -> None:
        if args.json:
            result = result_json(store, matcher.search(query, limit=args.limit))
            payload = result if query.strip() else _blank(query)
            print(json.dumps(payload, ensure_ascii=False), flush=True)
            return
        heading = f"# {query.strip() or '(blank line)'}\n" if batch else ""
        text = render(query) if query.strip() else ""
        print(f"{heading}{text or '(no query)'}", end="\n\n", flush=True)

    if args.query:
        answer(" ".join(args.query), batch=False)
        return EXIT_OK
    for line in sys.stdin:  # batch mode: one answer per input line, store loaded once
        answer(line.rstrip("\r\n"), batch=True)
    return EXIT_OK


def cmd_topics(args: argparse.Namespace) -> int:
    store = _catalog(args).store
    for topic, count in store.topic_counts():
        print(f"{count:5d}  {topic}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    settings = load_settings(require_slack=False)
    directory = args.directory or _claims_dir(args, settings) or default_claims_dir()
    store, problems = validate_dir(directory)
    for problem in problems:
        print(problem)
    if store is None:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{len(store)} claims OK in {directory}")
    return EXIT_OK


def cmd_stale(args: argparse.Namespace) -> int:
    """Stale claims, longest unreviewed first; exit 1 when there is any (for reminder jobs)."""
    store = _catalog(args).store
    today = args.today or date.today()
    review_every = load_freshness_config().review_every
    stale = store.get_many(stale_ids(store, today, review_every))
    for claim in stale:  # tab-separated: reviewed, age, id, title
        age = ago(claim.reviewed, today)
        print(f"{claim.reviewed.isoformat()}\t{age}\t{claim.id}\t{claim.title}")
    print(
        f"{len(stale)} of {len(store)} claims need review "
        f"(reviewed more than {review_every} days ago unless a claim sets review_every)",
        file=sys.stderr,
    )
    return EXIT_PROBLEMS if stale else EXIT_OK


def cmd_misses(args: argparse.Namespace) -> int:
    """The questions that most often matched nothing: what claim authors should write next."""
    from bot.digest.cli import table
    from bot.state.db import database_errors, database_exists, open_database
    from bot.state.misses import top_misses

    settings = load_settings(require_slack=False)
    if not database_exists(settings.database_url):
        print("no unanswered questions recorded (no database yet)")
        return EXIT_OK
    since = datetime.combine(args.since, datetime.min.time(), tzinfo=UTC) if args.since else None
    engine = open_database(settings.database_url)
    with database_errors(settings.database_url):
        rows = top_misses(engine, limit=args.limit, since=since, team_id=args.team)
    if not rows:
        print("no unanswered questions recorded")
        return EXIT_OK
    lines = [("COUNT", "LAST ASKED (UTC)", "QUERY")]
    lines += [(str(n), f"{last:%Y-%m-%d %H:%M}", query) for query, n, last in rows]
    print(table(lines))
    return EXIT_OK
