"""The ``ai-race`` command line: ask, topics, claims validate, serve, digest, report."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from bot.core.catalog import Catalog, load_catalog
from bot.core.freshness import ago, load_freshness_config, stale_ids
from bot.core.problems import StoreError
from bot.core.render_text import result_json, result_text
from bot.core.store import default_claims_dir, validate_dir

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if not 1 <= number <= 50:
        raise argparse.ArgumentTypeError("must be between 1 and 50")
    return number


def _catalog(args: argparse.Namespace) -> Catalog:
    try:
        return load_catalog(args.claims)
    except StoreError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(
            f"ai-race: the claim store has {len(exc.problems)} problem(s); "
            "run `ai-race claims validate` for the list",
            file=sys.stderr,
        )
        raise SystemExit(EXIT_PROBLEMS) from None


def cmd_ask(args: argparse.Namespace) -> int:
    catalog = _catalog(args)
    store, matcher = catalog.store, catalog.matcher

    def answer(query: str) -> None:
        result = matcher.search(query, limit=args.limit)
        if args.json:
            print(json.dumps(result_json(store, result), ensure_ascii=False), flush=True)
        else:
            print(result_text(store, result), end="\n\n", flush=True)

    if args.query:
        answer(" ".join(args.query))
        return EXIT_OK
    for line in sys.stdin:  # batch mode: one query per line, store loaded once
        if line.strip():
            answer(line.rstrip("\n"))
    return EXIT_OK


def cmd_topics(args: argparse.Namespace) -> int:
    store = _catalog(args).store
    for topic, count in store.topic_counts():
        print(f"{count:5d}  {topic}")
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    directory = args.directory or args.claims or default_claims_dir()
    store, problems = validate_dir(directory)
    for problem in problems:
        print(problem)
    if store is None:
        print(f"{len(problems)} problem(s) in {directory}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{len(store)} claims OK in {directory}")
    return EXIT_OK


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {value!r}") from None


def cmd_stale(args: argparse.Namespace) -> int:
    """Stale claims, longest unreviewed first; exit 1 when there is any (for reminder jobs)."""
    store = _catalog(args).store
    today = args.today or date.today()
    try:
        review_every = load_freshness_config().review_every
    except StoreError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_PROBLEMS
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-race", description="Sourced answers about the US-China AI race."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    claims_help = "claim directory (default: $AI_RACE_CLAIMS, else the bundled claims/)"
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ask = sub.add_parser("ask", help="answer a query from the claim store")
    ask.add_argument(
        "query", nargs="*", help="the query; omit to read one query per line from stdin"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object per query")
    ask.add_argument("--limit", type=_positive_int, default=3, help="matches to show (default 3)")
    ask.add_argument("--claims", type=Path, default=None, help=claims_help)
    ask.set_defaults(func=cmd_ask)

    topics = sub.add_parser("topics", help="list topics with claim counts")
    topics.add_argument("--claims", type=Path, default=None, help=claims_help)
    topics.set_defaults(func=cmd_topics)

    claims = sub.add_parser("claims", help="work with claim files")
    claims_sub = claims.add_subparsers(dest="claims_command", required=True, metavar="ACTION")
    validate = claims_sub.add_parser("validate", help="check every claim file, report all problems")
    validate.add_argument("directory", nargs="?", type=Path, default=None)
    validate.add_argument("--claims", type=Path, default=None, help=claims_help)
    validate.set_defaults(func=cmd_validate)
    stale = claims_sub.add_parser(
        "stale", help="list claims overdue for review, oldest first; exit 1 if any"
    )
    stale.add_argument("--claims", type=Path, default=None, help=claims_help)
    stale.add_argument(
        "--today", type=_iso_date, default=None, metavar="YYYY-MM-DD", help="judge as of this day"
    )
    stale.set_defaults(func=cmd_stale)

    _register_optional(sub)
    return parser


def _register_optional(sub: argparse._SubParsersAction) -> None:
    """Commands that live with their own subsystem (Slack server, digest, reports)."""
    from bot.digest.cli import register_cli as register_digest
    from bot.serve import register_cli as register_serve

    register_serve(sub)
    register_digest(sub)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ai-race ask … | head` should not print a traceback
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
