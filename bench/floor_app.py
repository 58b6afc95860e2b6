"""The floor for the Slack-path benchmark: a Bolt app that acks and does nothing.

Served by the same production server class and settings as ``ai-race serve``,
and with the same Bolt setting (``process_before_response``: the ack function
runs in the request thread), so the difference between the two is what our
app adds to an ack. ``--bolt-default`` keeps Bolt's default instead (the ack
function runs on Bolt's executor, which is polled every 10 ms): what a stock
Bolt app that only acks costs.
"""

from __future__ import annotations

import argparse
import os

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.serve import KEEPALIVE_S, WORKER_CONNECTIONS, ProductionServer


class FloorWeb:
    def __init__(self, app: App) -> None:
        from slack_bolt.adapter.wsgi import SlackRequestHandler

        self.slack = SlackRequestHandler(app)

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"ok": true, "claims": 0}']
        return self.slack(environ, start_response)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--bolt-default", action="store_true")
    args = parser.parse_args()
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(
        client=client,
        signing_secret=os.environ["SLACK_SIGNING_SECRET"],
        process_before_response=not args.bolt_default,
    )

    @app.command("/ai-race")
    def ack_only(ack: Ack) -> None:
        ack()

    options = {
        "bind": f"127.0.0.1:{args.port}",
        "workers": args.workers,
        "worker_class": "bot.worker.SlackThreadWorker",
        "worker_connections": WORKER_CONNECTIONS,
        "keepalive": KEEPALIVE_S,
        "threads": 32,
        "preload_app": True,
        "loglevel": "warning",
    }
    ProductionServer(FloorWeb(app), options).run()  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
