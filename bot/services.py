"""What the Slack listeners call: answers as messages, with the side effects.

Listeners stay thin (parse the payload, call one method here, send the
result); everything that decides *what* to say lives here or in the core, and
can be tested without Slack.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from slack_sdk import WebClient
from slack_sdk.models.views import View
from sqlalchemy import Engine

from bot.answers import AnswerQueue, ResponseUrlPolicy
from bot.core import blocks
from bot.core.blocks import SlackMessage
from bot.core.catalog import Catalog, CatalogHolder
from bot.core.freshness import Freshness
from bot.core.matcher import SearchResult
from bot.core.router import Verb, route
from bot.corrections.citing import CitationSite, citations_of
from bot.digest.slack import DigestCommands
from bot.feedback.payload import Click
from bot.jobs import Answers
from bot.runner import JobRunner, LocalAnswers
from bot.state.citations import record_citations
from bot.state.events import EventLedger
from bot.state.feedback import record_vote, wrong_votes_since
from bot.state.guard import DatabaseGuard
from bot.state.misses import record_miss

log = logging.getLogger(__name__)
PAGE = 3


@dataclass
class Services:
    """Process-wide, thread-safe helpers shared by every listener.

    Bolt deep-copies the request context for lazy listeners; these objects
    hold an engine, locks and an index, so they are shared, never copied.
    """

    catalog: CatalogHolder
    engine: Engine
    events: EventLedger
    digest: DigestCommands | None = None
    rng: random.Random = field(default_factory=random.Random)
    # A team's Web API client for answers, outside any request (bot.resume.team_clients).
    clients: Callable[[str], WebClient | None] | None = None
    response_urls: ResponseUrlPolicy = field(default_factory=ResponseUrlPolicy)
    # Stale-claim badges are judged on this day; tests move it instead of waiting.
    today: Callable[[], date] = date.today
    review_every: int | None = None  # None: config/freshness.yaml
    guard: DatabaseGuard | None = None
    # Where acks hand their answers over (bot.jobs): threads of this process, unless
    # replaced (the HTTP server's: its queue and outbox, then each worker's answer process).
    jobs: Answers = field(init=False)

    def __post_init__(self) -> None:
        if self.guard is None:
            self.guard = DatabaseGuard(self.engine)
        self.jobs = LocalAnswers(AnswerQueue(), JobRunner(self))  # threads start on first use

    @property
    def db(self) -> DatabaseGuard:
        assert self.guard is not None
        return self.guard

    def __deepcopy__(self, memo: dict[int, Any]) -> Services:
        return self

    @property
    def current(self) -> Catalog:
        return self.catalog.current

    def freshness(self) -> Freshness:
        return Freshness(self.today(), self.review_every)

    def _search(
        self, query: str, team_id: str | None, offset: int = 0
    ) -> tuple[SearchResult, bool]:
        matcher = self.current.matcher
        result = matcher.search(query, limit=PAGE + 1, offset=offset)
        has_more = len(result.matches) > PAGE
        result = SearchResult(result.query, result.matches[:PAGE], result.suggestions, result.words)
        if not result.found and offset == 0 and result.words:
            self.note_miss(team_id, query)
        return result, has_more

    def log_busy(self) -> None:
        log.warning("answer queue full (%d waiting): answering 'busy'", self.jobs.pending())

    def note_miss(self, team_id: str | None, query: str) -> None:
        """Remember what people looked for and did not find; never fail or delay an answer."""
        self.db.call(
            lambda engine: record_miss(engine, team_id or "unknown", query),
            False,
            what="miss logging",
        )

    def first_delivery(self, event_id: str) -> bool:
        """True unless the event was seen before; True as well when the database is out of reach.

        Answering a retry twice during an outage is better than answering nothing.
        """
        return self.db.call(
            lambda _engine: self.events.first_time(event_id), True, what="event de-duplication"
        )

    def search_message(self, query: str, team_id: str | None, offset: int = 0) -> SlackMessage:
        result, has_more = self._search(query, team_id, offset)
        if not result.found and offset > 0:
            return blocks.notice_message("No more results for that query.")
        return blocks.answer_message(
            self.current.store, result, offset=offset, has_more=has_more, freshness=self.freshness()
        )

    def command_message(self, text: str, team_id: str | None) -> SlackMessage:
        """Reply to ``/ai-race <text>`` for every verb except ``digest``."""
        store = self.current.store
        request = route(text)
        if request.verb is Verb.HELP:
            return blocks.help_message(store)
        if request.verb is Verb.TOPICS:
            return blocks.topics_message(store)
        if request.verb is Verb.RANDOM:
            return blocks.claim_message(
                store, self.rng.choice(store.claims), freshness=self.freshness()
            )
        if request.verb is Verb.CLAIM:
            claim = store.get(request.argument)
            if claim is None:
                near = self.current.matcher.search(request.argument.replace("-", " "))
                return blocks.unknown_claim_message(store, request.argument, near)
            return blocks.claim_message(store, claim, freshness=self.freshness())
        return self.search_message(request.argument, team_id)

    def thread_message(self, query: str, team_id: str | None) -> SlackMessage:
        """A visible answer in a thread: the matches without private-answer buttons."""
        result, _ = self._search(query, team_id)
        if not result.found:
            return blocks.no_match_message(self.current.store, result)
        claims = [m.claim for m in result.matches]
        return blocks.public_answer_message(
            self.current.store, query, claims, matches=result, freshness=self.freshness()
        )

    def shared_message(self, query: str, claim_ids: list[str], user_id: str) -> SlackMessage:
        store = self.current.store
        claims = [c for c in (store.get(i) for i in claim_ids[:PAGE]) if c is not None]
        if not claims:
            return blocks.notice_message("Those claims are no longer in the store.")
        return blocks.public_answer_message(
            store, query, claims, shared_by=user_id, freshness=self.freshness()
        )

    def home(self) -> View:
        """The App Home for anyone: usage, what needs review, topics, recent claims."""
        store = self.current.store
        # The Home tab matters more than the review list: without the database, none.
        reported: dict[str, int] = self.db.call(
            lambda engine: wrong_votes_since(engine, store.reviewed_of),
            {},
            what="reading feedback for the App Home",
        )
        return blocks.home_view(store, freshness=self.freshness(), reported=reported)

    def record_citations(self, site: CitationSite, claim_ids: tuple[str, ...]) -> None:
        """Remember a public post of these claims, with what each said (its content hash)."""
        claims = self.current.store.get_many(claim_ids)
        record_citations(self.engine, citations_of(claims, site))

    def record_feedback(
        self, click: Click, note: str | None = None, source_url: str | None = None
    ) -> bool:
        """Store a vote (and the form's note); False, logged, when the database is unreachable."""

        def vote(engine: Engine) -> bool:
            record_vote(
                engine,
                click.key,
                click.vote,
                answer_kind=click.target.kind,
                query=click.target.query,
                note=note,
                source_url=source_url,
            )
            return True

        return self.db.call(vote, False, what="recording feedback")

    def sources_message(self, claim_id: str) -> SlackMessage:
        claim = self.current.store.get(claim_id)
        if claim is None:
            return blocks.notice_message("That claim is no longer in the store.")
        return blocks.sources_message(claim)
