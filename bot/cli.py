"""The ``ai-race`` command line: the parser for every command, and ``main``.

Only the parser lives here, and it imports nothing heavy: each command's
handler is named as ``"module:function"`` and imported when that command
runs, so ``ai-race --help`` and usage errors answer at once instead of
loading SQLAlchemy, numpy, pydantic, gunicorn and bolt first. Handlers
return the exit code and fail only through :mod:`bot.core.errors`, which
:func:`bot.core.errors.command` (wrapped around each of them here) prints as
lines and an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from bot import __version__
from bot.core.errors import EXIT_OK, command

Handler = Callable[[argparse.Namespace], int]
CLAIMS_HELP = "claim directory (default: $AI_RACE_CLAIMS, else the bundled claims/)"


def lazy(target: str, prog: str = "ai-race") -> Handler:
    """The handler ``"module:function"``, imported on first call, errors printed for ``prog``."""
    module, name = target.split(":")

    @command(prog)
    def run(args: argparse.Namespace) -> int:
        handler: Handler = getattr(importlib.import_module(module), name)
        return int(handler(args) or EXIT_OK)

    return run


def _ranged(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high}")
        return number

    return parse


def _positive_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not number > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return number


def _instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO-8601 instant, e.g. 2026-03-30T07:00:00+02:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a date as YYYY-MM-DD, like 2026-11-24; got {value!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ai-race", description="Sourced answers about the US-China AI race."
    )
    parser.add_argument("--version", action="version", version=f"ai-race {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log what the bot does (INFO level)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_answers(sub)
    _add_reports(sub)
    _add_claims(sub)
    _add_serve(sub)
    _add_digest(sub)
    _add_corrections(sub)
    return parser


def _add_answers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """What people ask: ``ask``, ``topics``, and ``eval`` over a file of labelled questions."""
    ask = sub.add_parser("ask", help="answer a query from the claim store")
    ask.add_argument(
        "query", nargs="*", help="the query; omit to read one query per line from stdin"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object per query")
    ask.add_argument("--compact", action="store_true", help="one line per match")
    ask.add_argument("--limit", type=_ranged(1, 50), default=3, help="matches to show (default 3)")
    ask.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    ask.set_defaults(func=lazy("bot.commands:cmd_ask"), usage=ask.format_usage)

    topics = sub.add_parser("topics", help="list topics with claim counts")
    topics.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    topics.set_defaults(func=lazy("bot.commands:cmd_topics"))

    evaluation = sub.add_parser("eval", help="matching quality on a TSV of labelled queries")
    evaluation.add_argument("queries", type=Path, metavar="QUERIES.tsv")
    evaluation.add_argument("--json", action="store_true", help="print one JSON object")
    evaluation.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    evaluation.set_defaults(func=lazy("bot.eval_cli:cmd_eval", "ai-race eval"))


def _add_reports(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``report misses|feedback``: what claim authors learn from what people asked."""
    report = sub.add_parser("report", help="reports for claim authors")
    reports = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    misses = reports.add_parser("misses", help="most frequent questions that matched nothing")
    misses.add_argument("--limit", type=_ranged(1, 1000), default=20, metavar="N", help="rows (20)")
    misses.add_argument(
        "--since", type=_date, metavar="ISO-DATE", help="only questions since this day"
    )
    misses.add_argument("--team", metavar="T…", help="only this workspace's questions")
    misses.set_defaults(func=lazy("bot.commands:cmd_misses", "ai-race report"))
    feedback = reports.add_parser(
        "feedback", help="votes and notes on answers, per claim (people counted, never named)"
    )
    feedback.add_argument(
        "--since",
        type=_ranged(1, 3650),
        default=None,
        metavar="DAYS",
        help="only the last DAYS days",
    )
    feedback.add_argument(
        "--format",
        choices=("table", "tsv", "json"),
        default="table",
        help="table (default), tsv (rows for the evaluation) or json",
    )
    feedback.add_argument("--team", metavar="T…", help="only this workspace's votes")
    feedback.set_defaults(func=lazy("bot.feedback.cli:cmd_feedback", "ai-race report"))


def _add_claims(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``claims validate|stale``: checks for the people who write claim files."""
    claims = sub.add_parser("claims", help="work with claim files")
    claims_sub = claims.add_subparsers(dest="claims_command", required=True, metavar="ACTION")
    validate = claims_sub.add_parser("validate", help="check every claim file, report all problems")
    validate.add_argument("directory", nargs="?", type=Path, default=None)
    validate.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    validate.set_defaults(func=lazy("bot.commands:cmd_validate"))
    stale = claims_sub.add_parser(
        "stale", help="list claims overdue for review, oldest first; exit 1 if any"
    )
    stale.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    stale.add_argument(
        "--today", type=_date, default=None, metavar="YYYY-MM-DD", help="judge as of this day"
    )
    stale.set_defaults(func=lazy("bot.commands:cmd_stale"))


def _add_serve(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = sub.add_parser("serve", help="run the Slack app (HTTP via gunicorn, or --socket)")
    serve.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument(
        "--port", type=_ranged(1, 65535), default=None, help="HTTP port (default: $PORT or 3000)"
    )
    serve.add_argument("--host", default="0.0.0.0", help="interface to bind (default 0.0.0.0)")
    serve.add_argument(
        "--workers",
        type=_ranged(1, 64),
        default=None,
        help="processes (default $WEB_CONCURRENCY or 2)",
    )
    # Request threads only verify and ack (answers run on bot.answers' own
    # threads), and mostly wait on sockets: many are cheap, and they keep a
    # few stalled clients from holding every one.
    serve.add_argument(
        "--threads",
        type=_ranged(1, 256),
        default=32,
        help="request threads per process (default 32)",
    )
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(func=lazy("bot.serve:cmd_serve", "ai-race serve"))


def _add_digest(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    digest = sub.add_parser("digest", help="daily digests: run due ones, list subscriptions")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="COMMAND")
    run = digest_sub.add_parser(
        "run",
        help="deliver every digest due now, once, and exit (or loop with --forever)",
        description="Deliver due digests exactly once per channel and local day.",
    )
    run.add_argument("--forever", action="store_true", help="keep running (the clock process)")
    run.add_argument(
        "--interval", type=_positive_float, default=60.0, metavar="S", help="seconds between runs"
    )
    run.add_argument(
        "--stop-grace",
        type=_positive_float,
        default=10.0,
        metavar="S",
        help="with --forever: exit at most S seconds after SIGTERM (10)",
    )
    run.add_argument(
        "--at", type=_instant, metavar="ISO-8601", help="evaluate schedules as of this instant"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print what would be posted; write nothing"
    )
    run.add_argument(
        "--workers", type=_ranged(1, 64), default=8, help="channels posted in parallel (8)"
    )
    run.set_defaults(func=lazy("bot.digest.cli:cmd_run", "ai-race digest"))
    listing = digest_sub.add_parser("list", help="list digest subscriptions")
    listing.set_defaults(func=lazy("bot.digest.cli:cmd_list", "ai-race digest"))


def _add_corrections(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    corrections = sub.add_parser(
        "corrections", help="replies in the threads that cited a claim since revised"
    )
    actions = corrections.add_subparsers(
        dest="corrections_command", required=True, metavar="ACTION"
    )
    run = actions.add_parser(
        "run",
        help="post each due correction once (the clock process does this after store changes)",
    )
    run.add_argument(
        "--dry-run", action="store_true", help="print what would be posted; write nothing"
    )
    run.add_argument("--claims", type=Path, default=None, help=CLAIMS_HELP)
    run.set_defaults(func=lazy("bot.corrections.cli:cmd_run", "ai-race corrections"))


def configure_logging(verbose: bool) -> None:
    """``-v``: our INFO lines; Alembic's plugin and context chatter stays at WARNING.

    slack_sdk logs every failed request at ERROR and then raises; we log (or
    print) each such failure where it is handled, with what it means, so the
    SDK's own line is a context-free duplicate and is shown only with ``-v``.
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    if not verbose:
        logging.getLogger("slack_sdk.web.base_client").setLevel(logging.CRITICAL)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ai-race ask … | head` should not print a traceback
        sys.stderr.close()  # nothing more can be written; avoid the interpreter's warning
        return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
