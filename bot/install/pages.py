"""The HTML people see while installing: the install page, success and failure pages.

Plain server-rendered HTML with one inline stylesheet, no JavaScript: the
pages must load behind any proxy, read well at 390 px (a phone) and 1280 px
(a laptop), and never need a CDN. Every value that comes from outside
(team names, Slack's error codes) is escaped with :func:`html.escape`.

The failure page has one message per cause, because each has its own fix:
a cancelled install just needs another try, an expired or reused link needs a
fresh start from the install page, and a Slack error needs a retry later.
"""

from __future__ import annotations

import html
from enum import StrEnum

from bot.install.scopes import SCOPE_REASONS

APP_NAME = "AI Race Bot"
INSTALL_PATH = "/slack/install"

_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 -apple-system,BlinkMacSystemFont,"Segoe UI",Roboto,Helvetica,Arial,
sans-serif;color:#1d1c1d;background:#f4f5f7}
main{max-width:40rem;margin:0 auto;padding:2rem 1.25rem 3rem}
.card{background:#fff;border-radius:12px;padding:1.5rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.6rem;line-height:1.25;margin:0 0 .5rem;color:#1d3557}
h2{font-size:1.05rem;margin:1.5rem 0 .5rem}
p{margin:.5rem 0}
ul{padding-left:1.1rem;margin:.5rem 0}
li{margin:.35rem 0;overflow-wrap:anywhere}
code{font:.9em ui-monospace,Menlo,Consolas,monospace;background:#eef0f3;padding:.05em .3em;
border-radius:4px}
.button{display:inline-block;margin-top:1.25rem;padding:.75rem 1.4rem;border-radius:8px;
background:#4a154b;color:#fff;font-weight:700;text-decoration:none}
.button:focus,.button:hover{background:#611f69}
.muted{color:#616061;font-size:.9rem}
.ok h1{color:#007a5a}
.error h1{color:#b3261e}
"""


class Failure(StrEnum):
    """Why an install did not finish; each has its own page text."""

    CANCELLED = "cancelled"
    STATE = "state"
    BROWSER = "browser"
    SLACK = "slack"
    STORAGE = "storage"


# Bolt's FailureArgs.reason values (and Slack's ?error= codes) -> our causes.
_REASONS = {
    "access_denied": Failure.CANCELLED,
    "invalid_state": Failure.STATE,
    "invalid_browser": Failure.BROWSER,
    "storage_error": Failure.STORAGE,
}

_FAILURE_TEXT: dict[Failure, tuple[str, str]] = {
    Failure.CANCELLED: (
        "Installation cancelled",
        "You chose not to install the app, so nothing was changed in your workspace. "
        "Changed your mind? Start again below.",
    ),
    Failure.STATE: (
        "This install link has expired",
        "Install links work once and only for a few minutes, and this one was already used "
        "or is too old. Start again from the install page; it takes a few seconds.",
    ),
    Failure.BROWSER: (
        "Please finish in the same browser",
        "The install was started in another browser or the cookie it set was blocked. "
        "Start again from the install page in this browser, with cookies allowed.",
    ),
    Failure.SLACK: (
        "Slack could not complete the installation",
        "Slack answered with an error, so the app was not installed. Please try again in a "
        "minute; if it keeps failing, ask the person who runs this app to check its "
        "client id and secret.",
    ),
    Failure.STORAGE: (
        "The installation could not be saved",
        "Slack approved the install but this server could not store it. Please try again in "
        "a minute; if it keeps failing, tell the person who runs this app.",
    ),
}


def failure_for(reason: str) -> Failure:
    """Map Bolt's failure reason (or Slack's error code) to the page to show."""
    return _REASONS.get(reason, Failure.SLACK)


def _page(title: str, body: str, css_class: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · {APP_NAME}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="card {css_class}">{body}</div></main></body></html>\n'
    )


def install_page(authorize_url: str, scopes: tuple[str, ...]) -> str:
    """What the app does, every scope with why, and the "Add to Slack" button."""
    items = "".join(
        f"<li><code>{html.escape(s)}</code> — "
        f"{html.escape(SCOPE_REASONS.get(s, 'requested by the operator of this app'))}</li>"
        for s in scopes
    )
    body = (
        f"<h1>{APP_NAME}</h1>"
        "<p>Short, <strong>sourced</strong> summaries of claims about the US–China AI race, "
        "right where your team talks: type <code>/ai-race distillation</code>, mention "
        "<code>@ai-race</code> in a thread, or subscribe a channel to one short digest a "
        "day. Every answer says how well a claim is supported and links its sources.</p>"
        "<h2>What it asks Slack for, and why</h2>"
        f"<ul>{items}</ul>"
        '<p class="muted">It cannot read channels on its own: it sees only messages that '
        "mention it, and thread starters when asked. Questions that find nothing are kept "
        "(without names) so the claim store can grow; nothing is shared between "
        "workspaces.</p>"
        f'<a class="button" id="add-to-slack" href="{html.escape(authorize_url)}">'
        "Add to Slack</a>"
        '<p class="muted">You will choose the workspace and confirm on slack.com. '
        "Uninstall at any time from your workspace's app settings.</p>"
    )
    return _page("Add to Slack", body)


def success_page(team_name: str | None, app_url: str | None) -> str:
    """Installed: where to go next and the first thing to try."""
    where = f" to <strong>{html.escape(team_name)}</strong>" if team_name else ""
    link = (
        f'<a class="button" id="open-slack" href="{html.escape(app_url)}">Open Slack</a>'
        if app_url
        else ""
    )
    body = (
        f"<h1>{APP_NAME} is installed</h1>"
        f"<p>The app was added{where}. Try it now:</p>"
        "<ul><li>type <code>/ai-race help</code> in any channel,</li>"
        "<li>invite it where people will mention it: <code>/invite @ai-race</code>,</li>"
        "<li>subscribe a channel to a daily digest: <code>/ai-race digest on</code>.</li></ul>"
        f"{link}"
    )
    return _page("Installed", body, "ok")


def failure_page(failure: Failure) -> str:
    title, text = _FAILURE_TEXT[failure]
    body = (
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>"
        f'<a class="button" id="start-again" href="{INSTALL_PATH}">Start again</a>'
    )
    return _page(title, body, "error")
