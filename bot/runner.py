"""Turning an :class:`~bot.jobs.AnswerJob` into an :class:`~bot.answers.Answer` and running it.

This is the one place that knows how each kind of job is answered, so the
answer is the same whether it runs in the web process (Socket Mode, the
in-process tests: :class:`LocalAnswers`) or in the HTTP server's answer
process (:mod:`bot.answer_process`). Nothing here runs in an ack: the Web API
client for the job's team is looked up when the answer is computed, on an
answer thread (in multi-workspace mode that is a database read).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.views import View

from bot.answers import (
    Answer,
    AnswerQueue,
    Delivery,
    ReplyKind,
    ReplyTarget,
    ResponseUrlDelivery,
)
from bot.core import blocks
from bot.core.blocks import SlackMessage, notice_message
from bot.core.feedback import Vote
from bot.core.router import Verb, route
from bot.corrections.citing import (
    CitationKind,
    CitingThreadDelivery,
    SharedAnswerDelivery,
    recorder,
)
from bot.feedback.modal import NOT_RECORDED, THANKS, wrong_form
from bot.feedback.payload import click_from_json
from bot.jobs import AnswerJob, JobKind

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

DIGEST_TIMEOUT = 10.0  # users.info and a few small queries; far less unless something is down
DATABASE_DOWN = (
    "Digest settings are unavailable right now (the database cannot be reached). "
    "Searching still works; please try the digest command again in a few minutes."
)
NO_TOKEN = "no bot token for this workspace (uninstalled?)"
NOTHING = SlackMessage("")
"""An answer with nothing more to say (a vote whose form will thank): not sent."""
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


class NotInstalled(Exception):
    """The job's team has no token any more: nothing can be posted for it."""


@dataclass
class HomeDelivery:
    """``views.publish`` of a user's App Home: the message's blocks as the Home view."""

    client: WebClient
    user: str

    def send(self, message: SlackMessage) -> None:
        view = View(type="home", blocks=message.blocks)
        self.client.views_publish(user_id=self.user, view=view)


@dataclass
class _LazyDelivery:
    """A delivery built on the answer thread at first use (it may need the team's token)."""

    build: Callable[[], Delivery]
    _delivery: Delivery | None = field(default=None, init=False)

    def send(self, message: SlackMessage) -> None:
        if self._delivery is None:
            self._delivery = self.build()
        self._delivery.send(message)


class JobRunner:
    """Answers jobs with the process's :class:`~bot.services.Services`."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def client(self, team_id: str) -> WebClient:
        clients = self.services.clients
        client = clients(team_id) if clients is not None else None
        if client is None:
            raise NotInstalled(NO_TOKEN)
        return client

    def answer(self, job: AnswerJob) -> Answer:
        target = job.target
        durable = job.durable and target.kind in (ReplyKind.THREAD, ReplyKind.RESPONSE_URL)
        return Answer(
            lambda: self.compute(job),
            _LazyDelivery(lambda: self.delivery(target)),
            job.label,
            target=target if durable else None,
            key=job.key,
        )

    def delivery(self, target: ReplyTarget) -> Delivery:
        policy = self.services.response_urls
        if target.kind is ReplyKind.RESPONSE_URL:
            return ResponseUrlDelivery(
                target.url, policy, target.response_type, target.replace_original
            )
        if target.kind is ReplyKind.HOME:
            return HomeDelivery(self.client(target.team_id), target.user)
        record = self.services.record_citations
        if target.kind is ReplyKind.THREAD:
            citing = recorder(record, target.team_id, target.enterprise_id, CitationKind.THREAD)
            client = self.client(target.team_id)
            return CitingThreadDelivery(client, target.channel, target.thread_ts, citing)
        shared = recorder(record, target.team_id, target.enterprise_id, CitationKind.SHARED)
        fallback = ResponseUrlDelivery(target.url, policy, "in_channel", False)
        client = self.client(target.team_id)
        return SharedAnswerDelivery(
            client, target.channel, target.thread_ts or None, fallback, shared
        )

    def compute(self, job: AnswerJob) -> SlackMessage:
        services, args, team_id = self.services, job.args, job.target.team_id or None
        kind = job.kind
        if kind is JobKind.COMMAND:
            return self.command(args)
        # The listeners that build a job already checked its arguments (bot.listeners).
        if kind is JobKind.SEARCH:
            return services.search_message(args["query"], team_id, args.get("offset", 0))
        if kind is JobKind.SOURCES:
            return services.sources_message(str(args.get("claim_id", "")))
        if kind is JobKind.CLAIM:
            return services.command_message(f"claim {args.get('claim_id', '')}", team_id)
        if kind is JobKind.SHARE:
            return services.shared_message(args["query"], args["ids"], args["user_id"])
        if kind is JobKind.MENTION:
            return self.mention(job)
        if kind is JobKind.HOME:
            return SlackMessage("App Home", services.home().blocks)
        if kind is JobKind.VOTE:
            return self.vote(job)
        return notice_message(str(args.get("text", "")))

    def command(self, command: dict[str, Any]) -> SlackMessage:
        """Reply to ``/ai-race <text>``; ``digest`` also needs the database and Slack."""
        services = self.services
        text = command.get("text", "")
        if route(text).verb is Verb.DIGEST and services.digest is not None:
            digest = services.digest
            client = self.client(command.get("team_id", ""))
            return services.db.call(
                lambda _engine: digest.handle(command, client),
                notice_message(DATABASE_DOWN),
                what="digest command",
                timeout=DIGEST_TIMEOUT,
            )
        return services.command_message(text, command.get("team_id"))

    def vote(self, job: AnswerJob) -> SlackMessage:
        """Record a feedback click; "Wrong or outdated" opens the form first (trigger_id: 3 s).

        The vote counts even when the form cannot be opened (an expired
        trigger_id): it is then thanked privately like any other vote.
        """
        click = click_from_json(job.args["click"])
        opened = False
        if click.vote is Vote.WRONG:
            claim = self.services.current.store.get(click.target.claim_id)
            try:
                form = wrong_form(click, claim.title if claim else None)
                trigger_id = str(job.args.get("trigger_id", ""))
                self.client(job.target.team_id).views_open(trigger_id=trigger_id, view=form)
                opened = True
            except SlackApiError as exc:  # e.g. expired_trigger_id: the vote still counts
                log.warning("could not open the feedback form: %s", exc.response.get("error"))
        recorded = self.services.record_feedback(click)
        if opened and recorded:
            return NOTHING  # the form says thanks when it is sent
        return notice_message(THANKS if recorded else NOT_RECORDED)

    def mention(self, job: AnswerJob) -> SlackMessage:
        """A mention's query: its text without the bot's mention, or the thread's first message."""
        args, target = job.args, job.target
        bot_user_id = args.get("bot_user_id")
        bot_mention = f"<@{bot_user_id}>" if bot_user_id else None
        text = str(args.get("text", ""))
        query = text.replace(bot_mention, " ") if bot_mention else _MENTION.sub(" ", text, count=1)
        if not query.strip() and args.get("thread_ts"):
            # A bare mention inside a thread looks up what the thread is about.
            try:
                replies = self.client(target.team_id).conversations_replies(
                    channel=target.channel, ts=args["thread_ts"], limit=1
                )
            except SlackApiError as exc:  # e.g. no history scope here: say so, never go silent
                if exc.response.status_code == 429 or exc.response.status_code >= 500:
                    raise  # the answer queue tries again later
                reason = exc.response.get("error", "error")
                return blocks.notice_message(
                    f"I couldn't read this thread's first message (Slack said `{reason}`). "
                    "Mention me with a few words instead, e.g. `@ai-race open source models`."
                )
            messages = replies.get("messages") or []
            query = messages[0].get("text", "") if messages else ""
        if not query.strip():
            return blocks.help_message(self.services.current.store)
        return self.services.thread_message(query, target.team_id or None)


class LocalAnswers:
    """Jobs answered by threads of this process: Socket Mode, the digest clock, tests.

    The HTTP server does not use this (its answers run in the answer process,
    :mod:`bot.answer_process`), because in-process answer threads take the GIL
    from the request threads that ack.
    """

    def __init__(self, queue: AnswerQueue, runner: JobRunner) -> None:
        self.queue = queue
        self.runner = runner

    def submit(self, job: AnswerJob, *, reserve: int = 0) -> bool:
        return self.queue.submit(self.runner.answer(job), reserve=reserve)

    def pending(self) -> int:
        return self.queue.pending()

    def drain(self, timeout: float) -> int:
        return self.queue.drain(timeout)

    def up(self) -> bool:
        return True

    def claims(self) -> int:
        return len(self.runner.services.current.store)
