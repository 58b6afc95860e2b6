"""``ai-race digest run|list`` (registered by ``bot/cli.py``).

Settings come from :func:`bot.settings.load_settings`, as on Heroku:
``DATABASE_URL`` (default a SQLite file, see :mod:`bot.state.db`),
``SLACK_BOT_TOKEN`` (required to post; not for ``--dry-run``) or, with
several workspaces, ``SLACK_CLIENT_ID`` (each subscription is posted with its
workspace's installed token), ``SLACK_API_URL`` (the Web API base URL; tests
and benchmarks point it at the mock), ``AI_RACE_DIGEST_CONFIG``. Tokens and
database passwords are never printed.

Each handler returns the process exit code — 0 ok, 1 a run, config or
service problem, 2 a usage/settings error — and fails only through
:mod:`bot.core.errors`, printed by :func:`bot.core.errors.command`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.core.errors import SettingsError, SlackUnavailable, UsageError
from bot.corrections.citing import DigestCitations
from bot.digest.config_file import ConfigSubscription, load_digest_config
from bot.digest.kinds import OutcomeStatus
from bot.digest.runner import DigestRunner, Renderer, RunReport, TokenSource, plain_render
from bot.digest.schedule import local_time, next_digest
from bot.digest.subscriptions import (
    last_delivered_dates,
    list_subscriptions,
    planned_subscriptions,
    schedule_anchor,
    sync_config_subscriptions,
)
from bot.settings import Settings, load_settings
from bot.state.db import database_errors, database_exists, open_database
from bot.state.housekeeping import prune_state

RenderFactory = Callable[[], Renderer]
SHUTDOWN_GRACE_S = 10.0
"""``--forever`` exits within this of SIGTERM (platforms kill after 10-30 s)."""


def _stop_soon(stop: threading.Event, grace: float) -> None:
    """SIGTERM: finish the current run, but exit within ``grace`` seconds whatever happens.

    A call to a database or Slack that hangs (a half-open connection) would
    otherwise keep the process past the platform's kill timeout, or for ever.
    Leaving then is safe: a delivery cut short keeps its ledger lease, and
    the next run takes it over after checking the channel for the message.
    """
    stop.set()

    def give_up() -> None:
        print(
            f"ai-race digest: still busy {grace:g} s after SIGTERM (a database or "
            "Slack call is hanging); exiting, the next run takes unfinished deliveries over",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)

    timer = threading.Timer(grace, give_up)
    timer.daemon = True
    timer.start()


def default_renderer() -> Renderer:
    """The app's Block Kit digest (``bot.core.blocks.digest_message``), else plain text."""
    try:
        from bot.core import blocks
    except ImportError:
        return plain_render
    render = getattr(blocks, "digest_message", None)
    return render if callable(render) else plain_render


def _client(settings: Settings, required: bool) -> WebClient | None:
    if settings.oauth is not None:
        # Several workspaces: no token here; the runner adds each subscription's team token.
        return WebClient(token=None, base_url=settings.api_url, retry_handlers=[])
    if not settings.bot_token and not required:
        return None
    token = settings.require_bot_token("it is needed to post; try --dry-run")
    # No slack_sdk retry handlers: the runner does its own (see bot.digest.poster).
    return WebClient(token=token, base_url=settings.api_url, retry_handlers=[])


def _installed_tokens(settings: Settings, engine: Engine) -> TokenSource | None:
    """With ``SLACK_CLIENT_ID``: each workspace's token from the installation store."""
    if settings.oauth is None:
        return None
    from bot.install.tokens import InstalledTokens

    return InstalledTokens(settings.oauth.client_id, engine)


def _config_entries(settings: Settings, client: WebClient | None) -> list[ConfigSubscription]:
    """The digest config; entries without ``team`` get the token's workspace."""
    entries = load_digest_config(settings.digest_config, require_team=False)
    if all(entry.team is not None for entry in entries):
        return entries
    if settings.oauth is not None:
        raise SettingsError(
            "the digest config has entries without team: with SLACK_CLIENT_ID "
            "(several workspaces) add team: T… to each entry"
        )
    if client is None:
        raise SettingsError(
            "the digest config has entries without team: set SLACK_BOT_TOKEN "
            "or add team: T… to each entry"
        )
    try:
        team_id = str(client.auth_test()["team_id"])
    except SlackApiError as exc:
        raise SlackUnavailable(
            f"Slack refused auth.test ({exc.response.get('error')}): check SLACK_BOT_TOKEN"
        ) from None
    except OSError as exc:
        raise SlackUnavailable(
            f"Slack could not be reached at {settings.api_url} ({exc}): check the network "
            "and SLACK_API_URL"
        ) from None
    return load_digest_config(settings.digest_config, default_team_id=team_id)


@contextlib.contextmanager
def _dry_run_engine(settings: Settings) -> Iterator[Engine]:
    """The real database when it exists, else an empty one in a temporary directory."""
    if database_exists(settings.database_url):
        yield open_database(settings.database_url)
        return
    with tempfile.TemporaryDirectory(prefix="ai-race-dry-run-") as scratch:
        engine = open_database(f"sqlite:///{Path(scratch) / 'dry-run.sqlite3'}")
        try:
            yield engine
        finally:
            engine.dispose()


def _store_provider() -> Any:
    from bot.core.store import load_store

    return load_store()


def cmd_run(args: argparse.Namespace, render_factory: RenderFactory | None = None) -> int:
    """``digest run``: sync the digest config, then deliver (or, dry, only show) due digests."""
    render_factory = render_factory or default_renderer
    settings = load_settings(require_slack=False)
    client = _client(settings, required=not args.dry_run)
    if args.forever and (args.at or args.dry_run):
        raise UsageError("--forever cannot be combined with --at or --dry-run")
    entries = _config_entries(settings, client)
    if args.dry_run:
        with _dry_run_engine(settings) as engine, database_errors(settings.database_url):
            runner = _runner(engine, client, settings, render_factory, args.workers)
            planned = planned_subscriptions(list_subscriptions(engine), entries, now=args.at)
            report = runner.run_once(now=args.at, dry_run=True, subscriptions=planned)
        return _print_report(report)
    engine = open_database(settings.database_url)
    with database_errors(settings.database_url):
        sync_config_subscriptions(engine, entries, now=args.at)  # new entries count from then
        runner = _runner(engine, client, settings, render_factory, args.workers)
        if not args.forever:
            report = runner.run_once(now=args.at)
            prune_state(engine, miss_retention=settings.miss_retention)
            return _print_report(report)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: _stop_soon(stop, args.stop_grace))
    from bot.resume import resume_in_clock  # replies left by stopped web processes

    stop_resuming = resume_in_clock(settings, engine)
    with contextlib.suppress(KeyboardInterrupt):
        runner.run_forever(
            interval=args.interval,
            stop_event=stop,
            miss_retention=settings.miss_retention,
            after_run=_corrections(engine, settings),
        )
    stop_resuming(min(settings.drain_seconds, args.stop_grace / 2))
    return 0


def _runner(
    engine: Engine,
    client: WebClient | None,
    settings: Settings,
    render_factory: RenderFactory,
    workers: int,
) -> DigestRunner:
    return DigestRunner(
        engine,
        _store_provider,
        client if client is not None else WebClient(token="", base_url=settings.api_url),
        render_factory(),
        max_workers=max(1, workers),
        tokens=_installed_tokens(settings, engine),
        cited=DigestCitations(engine),
    )


def _corrections(engine: Engine, settings: Settings) -> Callable[[], None]:
    """After each run: the threads citing a claim the store since changed get a correction."""
    from bot.core.store import default_claims_dir
    from bot.corrections.cli import make_runner
    from bot.corrections.watch import CorrectionsOnStoreChange

    runner = make_runner(engine, settings, dry_run=False)
    return CorrectionsOnStoreChange(runner, settings.claims_dir or default_claims_dir())


def _print_report(report: RunReport) -> int:
    """Print one line per outcome and a summary; exit code 1 if a due digest did not go out."""
    for o in report.outcomes:
        where = f"{o.team_id}/{o.channel_id} {o.local_date}"
        if o.status == OutcomeStatus.WOULD_POST:
            print(f"would post to {where}: {', '.join(o.claim_ids)}")
            for line in (o.text or "").splitlines():
                print(f"    {line}")
        else:
            extra = f" ts={o.message_ts}" if o.message_ts else ""
            extra += f" error={o.error}" if o.error else ""
            print(f"{o.status}: {where}{extra}")
    summary = ", ".join(f"{k} {v}" for k, v in report.counts().items()) or "nothing due"
    print(f"{'dry run' if report.dry_run else 'run'} {report.run_id}: {summary}")
    return 1 if report.undelivered else 0


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart (``digest list``, ``report misses``)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _upcoming(sub: Any, now: datetime, delivered: dict[tuple[str, str], date]) -> datetime:
    """The next digest by the runner's rule (:func:`bot.digest.schedule.next_digest`)."""
    last = delivered.get((sub.team_id, sub.channel_id))
    return next_digest(sub, now, schedule_anchor(sub), last)


def cmd_list(args: argparse.Namespace) -> int:
    settings = load_settings(require_slack=False)
    if not database_exists(settings.database_url):
        print("no digest subscriptions (no database yet)")
        return 0
    engine = open_database(settings.database_url)
    with database_errors(settings.database_url):
        subs = list_subscriptions(engine)
        delivered = last_delivered_dates(engine)
    if not subs:
        print("no digest subscriptions")
        return 0
    now = datetime.now(UTC)
    rows = [("TEAM", "CHANNEL", "TIME", "TIMEZONE", "DAYS", "N", "TOPICS", "SOURCE", "NEXT/PAUSED")]
    for s in subs:
        state = (
            f"paused: {s.paused_reason}"
            if s.paused_reason
            else f"{local_time(s, _upcoming(s, now, delivered)):%a %d %b %H:%M %Z}"
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
    print(table(rows))
    return 0
