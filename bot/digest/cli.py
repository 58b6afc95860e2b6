"""``ai-race digest run|list`` and ``ai-race report misses`` (registered by ``bot/cli.py``).

Settings come from the environment, as on Heroku: ``DATABASE_URL`` (default a
SQLite file, see :mod:`bot.state.db`), ``SLACK_BOT_TOKEN`` (required to post;
not for ``--dry-run``), ``SLACK_API_URL`` (the Web API base URL; tests and
benchmarks point it at the mock). Tokens and database passwords are never
printed.

Each handler is stored as ``func`` on the parsed namespace and returns the
process exit code: 0 ok, 1 a run or config problem, 2 a usage/settings error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.core.problems import StoreError
from bot.digest.config_file import load_digest_config
from bot.digest.runner import DigestRunner, Renderer, RunReport, plain_render
from bot.digest.schedule import local_time, next_run
from bot.digest.subscriptions import list_subscriptions, sync_config_subscriptions
from bot.state.db import make_engine, migrate
from bot.state.misses import top_misses

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
RenderFactory = Callable[[], Renderer]


class CliError(Exception):
    """A one-line, user-facing error with an exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def default_renderer() -> Renderer:
    """The app's Block Kit digest (``bot.core.blocks.digest_message``), else plain text."""
    try:
        from bot.core import blocks
    except ImportError:
        return plain_render
    render = getattr(blocks, "digest_message", None)
    return render if callable(render) else plain_render


def register_cli(
    subparsers: argparse._SubParsersAction[Any],
    *,
    render_factory: RenderFactory = default_renderer,
) -> None:
    """Add ``digest run``, ``digest list`` and ``report misses`` to the ``ai-race`` CLI."""
    digest = subparsers.add_parser("digest", help="daily digests: run due ones, list subscriptions")
    digest_sub = digest.add_subparsers(dest="digest_command", required=True, metavar="COMMAND")

    run = digest_sub.add_parser(
        "run",
        help="deliver every digest due now, once, and exit (or loop with --forever)",
        description="Deliver due digests exactly once per channel and local day.",
    )
    run.add_argument("--forever", action="store_true", help="keep running (the clock process)")
    run.add_argument(
        "--interval", type=float, default=60.0, metavar="S", help="seconds between runs (60)"
    )
    run.add_argument(
        "--at",
        type=_parse_instant,
        metavar="ISO-8601",
        help="evaluate schedules as of this instant (no offset means UTC)",
    )
    run.add_argument("--dry-run", action="store_true", help="print what would be posted")
    run.add_argument("--workers", type=int, default=8, help="channels posted in parallel (8)")
    run.set_defaults(func=lambda args: _guard(_cmd_run, args, render_factory))

    listing = digest_sub.add_parser("list", help="list digest subscriptions")
    listing.set_defaults(func=lambda args: _guard(_cmd_list, args, render_factory))

    report = subparsers.add_parser("report", help="reports for claim authors")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    misses = report_sub.add_parser("misses", help="most frequent questions that matched nothing")
    misses.add_argument("--limit", type=int, default=20, metavar="N", help="rows (20)")
    misses.add_argument(
        "--since", type=_parse_date, metavar="ISO-DATE", help="only questions since this day"
    )
    misses.set_defaults(func=lambda args: _guard(_cmd_misses, args, render_factory))


def _parse_instant(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an ISO-8601 instant, e.g. 2026-03-30T07:00:00+02:00"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date like 2026-11-24") from None


def _guard(
    handler: Callable[[argparse.Namespace, RenderFactory], int],
    args: argparse.Namespace,
    render_factory: RenderFactory,
) -> int:
    try:
        return handler(args, render_factory)
    except CliError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except StoreError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 1


def _engine() -> Engine:
    engine = make_engine()
    migrate(engine)
    return engine


def _client(required: bool) -> WebClient | None:
    token = os.environ.get("SLACK_BOT_TOKEN", "").strip()
    if not token:
        if required:
            raise CliError("SLACK_BOT_TOKEN is not set (it is needed to post; try --dry-run)")
        return None
    base_url = os.environ.get("SLACK_API_URL", "").strip() or DEFAULT_SLACK_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    # No slack_sdk retry handlers: the runner does its own (see bot.digest.runner).
    return WebClient(token=token, base_url=base_url, retry_handlers=[])


def _sync_config(engine: Engine, client: WebClient | None) -> None:
    """Upsert config/digest.yaml; entries without ``team`` use the token's workspace."""
    entries = load_digest_config(require_team=False)
    if any(entry.team is None for entry in entries):
        if client is None:
            raise CliError(
                "config/digest.yaml has entries without team: set SLACK_BOT_TOKEN "
                "or add team: T… to each entry",
                code=1,
            )
        try:
            team_id = str(client.auth_test()["team_id"])
        except SlackApiError as exc:
            raise CliError(f"auth.test failed: {exc.response.get('error')}", code=1) from None
        entries = load_digest_config(default_team_id=team_id)
    sync_config_subscriptions(engine, entries)


def _store_provider() -> Any:
    from bot.core.store import load_store

    return load_store()


def _cmd_run(args: argparse.Namespace, render_factory: RenderFactory) -> int:
    client = _client(required=not args.dry_run)
    if args.forever and (args.at or args.dry_run):
        raise CliError("--forever cannot be combined with --at or --dry-run")
    if args.interval <= 0:
        raise CliError("--interval must be positive")
    engine = _engine()
    _sync_config(engine, client)
    runner = DigestRunner(
        engine,
        _store_provider,
        client if client is not None else WebClient(token="", base_url=DEFAULT_SLACK_API_URL),
        render_factory(),
        max_workers=max(1, args.workers),
    )
    if args.forever:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            runner.run_forever(interval=args.interval, stop_event=stop)
        return 0
    report = runner.run_once(now=args.at, dry_run=args.dry_run)
    _print_report(report)
    bad = report.count("error") + report.count("failed")
    return 1 if bad else 0


def _print_report(report: RunReport) -> None:
    for o in report.outcomes:
        where = f"{o.team_id}/{o.channel_id} {o.local_date}"
        if o.status == "would_post":
            print(f"would post to {where}: {', '.join(o.claim_ids)}")
            for line in (o.text or "").splitlines():
                print(f"    {line}")
        else:
            extra = f" ts={o.message_ts}" if o.message_ts else ""
            extra += f" error={o.error}" if o.error else ""
            print(f"{o.status}: {where}{extra}")
    summary = ", ".join(f"{k} {v}" for k, v in report.counts().items()) or "nothing due"
    print(f"{'dry run' if report.dry_run else 'run'} {report.run_id}: {summary}")


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _cmd_list(args: argparse.Namespace, render_factory: RenderFactory) -> int:
    engine = _engine()
    subs = list_subscriptions(engine)
    if not subs:
        print("no digest subscriptions")
        return 0
    now = datetime.now(UTC)
    rows = [("TEAM", "CHANNEL", "TIME", "TIMEZONE", "DAYS", "N", "TOPICS", "SOURCE", "NEXT/PAUSED")]
    for s in subs:
        state = (
            f"paused: {s.paused_reason}"
            if s.paused_reason
            else f"{local_time(s, next_run(s, now)):%a %d %b %H:%M %Z}"
        )
        rows.append(
            (
                s.team_id,
                s.channel_id,
                s.time,
                s.timezone,
                s.days,
                str(s.claims_per_digest),
                ",".join(s.topics or []) or "-",
                s.source,
                state,
            )
        )
    print(_table(rows))
    return 0


def _cmd_misses(args: argparse.Namespace, render_factory: RenderFactory) -> int:
    if args.limit <= 0:
        raise CliError("--limit must be positive")
    since = datetime.combine(args.since, datetime.min.time(), tzinfo=UTC) if args.since else None
    rows = top_misses(_engine(), limit=args.limit, since=since)
    if not rows:
        print("no unanswered questions recorded")
        return 0
    table = [("COUNT", "LAST ASKED (UTC)", "QUERY")]
    table += [(str(n), f"{last:%Y-%m-%d %H:%M}", query) for query, n, last in rows]
    print(_table(table))
    return 0
