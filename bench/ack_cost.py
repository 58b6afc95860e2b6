"""CPU cost of the ack path alone: a signed slash command through the gate, Bolt and our listener.

In process, no HTTP and no answer work (the answer queue accepts and drops the
job), so what is left is exactly what runs before the ack goes out: size and
signature checks on the raw bytes, Bolt's parsing and middleware, our
middleware and the listener that queues the answer. ``--profile`` prints the
top of a cProfile run.

    python bench/ack_cost.py [--requests 2000] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_server import BOT_TOKEN, SIGNING_SECRET  # noqa: E402
from tests.support.mock_slack import MockSlack  # noqa: E402
from tests.support.signing import FORM, signed_headers, slash_command_body  # noqa: E402


def environ_for(body: str) -> dict[str, Any]:
    raw = body.encode()
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "POST",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "PATH_INFO": "/slack/events",
        "QUERY_STRING": "",
        "CONTENT_LENGTH": str(len(raw)),
        "CONTENT_TYPE": FORM,
        "wsgi.input": io.BytesIO(raw),
    }
    for name, value in signed_headers(body, SIGNING_SECRET, content_type=FORM).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    with MockSlack() as mock, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=mock.base_url,
            DATABASE_URL=f"sqlite:///{Path(tmp) / 'ack.sqlite3'}",
        )
        from bot.app import create_app
        from bot.serve import WebApp, build_services
        from bot.settings import load_settings

        settings = load_settings()
        services = build_services(settings)
        services.jobs.submit = lambda answer, reserve=0: True  # type: ignore[method-assign]
        web = WebApp(create_app(settings, services), services, SIGNING_SECRET)
        bodies = [
            environ_for(slash_command_body("distillation", response_url=mock.response_url(f"{n}")))
            for n in range(args.requests)
        ]

        def ack(environ: dict[str, Any]) -> None:
            status: list[str] = []
            b"".join(web(environ, lambda line, _headers: status.append(line)))
            assert status[0].startswith("200"), status

        for _ in range(100):  # warm-up (Bolt's one-off auth.test among them)
            ack(environ_for(slash_command_body("warm", response_url=mock.response_url("w"))))
        started = time.perf_counter()
        for environ in bodies:
            ack(environ)
        elapsed = time.perf_counter() - started
        print(f"ack path: {elapsed / len(bodies) * 1000:.3f} ms CPU per slash command")
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            for n in range(500):
                ack(environ_for(slash_command_body("q", response_url=mock.response_url(f"p{n}"))))
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()
