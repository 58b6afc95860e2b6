"""Who resumes the reply outbox: every web process, and the digest clock process too.

A reply left in the outbox by a stopped or dead web process (:mod:`bot.outbox`)
is taken over by the first process whose :class:`~bot.outbox.Resumer` sees its
lease run out. Web processes run one each (:mod:`bot.serve`); so does
``digest run --forever`` (:func:`resume_in_clock`), because a deployment may
run the clock alone for a while (web scaled to zero, a failed deploy) and the
replies would otherwise wait until a web process came back, or expire.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import Engine

from bot.answers import AnswerQueue, ResponseUrlPolicy
from bot.app import configure_client
from bot.core.store import ClaimStore
from bot.corrections.citing import (
    CitationKind,
    CitationSite,
    RecordAt,
    RecordCitations,
    citations_of,
    recorder,
)
from bot.outbox import Outbox, Resumer, deliveries, thread_reply_ts
from bot.settings import Settings
from bot.state.citations import record_citations
from bot.state.guard import DatabaseGuard
from bot.state.outbox import OutboxStore

log = logging.getLogger(__name__)

ClientFor = Callable[[str], WebClient | None]


def team_clients(settings: Settings, engine: Engine, single: WebClient | None = None) -> ClientFor:
    """A Web API client for a team, outside any request: the one token, or the team's install."""
    if settings.oauth is None:
        one = single or configure_client(WebClient(token=settings.bot_token), settings)
        return lambda _team: one
    from bot.install.tokens import InstalledTokens

    tokens = InstalledTokens(settings.oauth.client_id, engine)

    def client(team_id: str) -> WebClient | None:
        token = tokens.token(team_id)
        return configure_client(WebClient(token=token), settings) if token else None

    return client


def outbox_for(settings: Settings, engine: Engine, guard: DatabaseGuard) -> Outbox:
    lease = timedelta(seconds=settings.outbox_lease_seconds)
    return Outbox(OutboxStore(engine, lease=lease), guard)


def start_resumer(
    outbox: Outbox,
    queue: AnswerQueue,
    settings: Settings,
    client_for: ClientFor,
    record: RecordAt,
) -> threading.Event:
    """One resumer thread for this process, queueing what it takes over on ``queue``."""

    def citing(team_id: str, enterprise_id: str) -> RecordCitations:
        return recorder(record, team_id, enterprise_id, CitationKind.THREAD)

    def find_posted(target: Any, key: str) -> str | None:
        client = client_for(target.team_id)
        return thread_reply_ts(client, target, key) if client is not None else None

    resumer = Resumer(
        outbox,
        queue,
        deliveries(client_for, ResponseUrlPolicy(settings.api_url), citing),
        find_posted,
        interval=settings.outbox_interval_seconds,
    )
    return resumer.start()


class StoreCitations:
    """``record_citations`` for a process without :class:`~bot.services.Services`.

    The claim store is loaded on the first resumed reply that cites claims,
    not at start-up: most clock processes never resume one.
    """

    def __init__(self, engine: Engine, claims_dir: Path | None) -> None:
        self.engine = engine
        self.claims_dir = claims_dir
        self._store: ClaimStore | None = None
        self._lock = threading.Lock()

    def store(self) -> ClaimStore:
        from bot.core.store import load_store

        with self._lock:
            if self._store is None:
                self._store = load_store(self.claims_dir)
            return self._store

    def __call__(self, site: CitationSite, claim_ids: tuple[str, ...]) -> None:
        claims = self.store().get_many(claim_ids)
        record_citations(self.engine, citations_of(claims, site))


def resume_in_clock(settings: Settings, engine: Engine) -> Callable[[float], int]:
    """Resume outbox replies from the digest clock; returns ``stop(drain_seconds)``.

    The replies get their own small answer queue; ``stop`` ends the resumer
    and drains that queue as a web worker does on SIGTERM, leaving what still
    waits to the outbox for the next process.
    """
    guard = DatabaseGuard(engine)
    outbox = outbox_for(settings, engine, guard)
    queue = AnswerQueue(capacity=settings.answer_queue, durability=outbox)
    record = StoreCitations(engine, settings.claims_dir)
    resuming = start_resumer(outbox, queue, settings, team_clients(settings, engine), record)

    def stop(drain: float) -> int:
        resuming.set()
        return queue.drain(drain)

    return stop


__all__ = ["StoreCitations", "outbox_for", "resume_in_clock", "start_resumer", "team_clients"]
