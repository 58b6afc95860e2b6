"""Digest fan-out: N subscribed channels against a mock Web API that pushes back.

The mock enforces one post per second per channel, a workspace-wide cap per
minute, and answers a fraction of posts (default 10%) with 429 and
Retry-After: 1. One ``DigestRunner.run_once`` delivers everything due; the
report gives the total time against the floor the workspace cap allows,
posts lost (channels without exactly one accepted digest) and posts
duplicated (channels with more than one).

    python bench/digest_bench.py [--channels 1000,10000] [--workers 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.blocks import digest_message  # noqa: E402
from bot.core.store import load_store  # noqa: E402
from bot.digest.runner import DigestRunner  # noqa: E402
from bot.digest.subscriptions import subscribe  # noqa: E402
from bot.state.db import make_engine, migrate  # noqa: E402
from tests.support.mock_slack import MockSlack  # noqa: E402

RUN_AT = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
SUBSCRIBED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # before the slot: it is due at RUN_AT


def run(channels: int, args: argparse.Namespace, database_url: str) -> dict[str, float]:
    engine = make_engine(database_url)
    migrate(engine)
    for i in range(channels):
        subscribe(
            engine, "T1", f"C{i:06d}", time="09:00", timezone="UTC", days="daily", now=SUBSCRIBED
        )
    store = load_store()
    with MockSlack(
        per_channel_interval=1.0,
        workspace_limit_per_minute=args.workspace_cap,
        ratelimit_fraction=args.ratelimit,
        seed=1,
    ) as mock:
        runner = DigestRunner(
            engine, lambda: store, mock.web_client(), digest_message, max_workers=args.workers
        )
        start = time.perf_counter()
        report = runner.run_once(RUN_AT)
        elapsed = time.perf_counter() - start
        per_channel = Counter(post["channel"] for post in mock.posted())
        attempts = mock.calls_to("chat.postMessage")
        history_reads = len(mock.calls_to("conversations.history"))
    floor = channels / (args.workspace_cap / 60)
    return {
        "channels": channels,
        "seconds": elapsed,
        "floor_seconds": floor,
        "ratio_to_floor": elapsed / floor,
        "delivered": report.delivered,
        "lost": sum(1 for i in range(channels) if per_channel[f"C{i:06d}"] == 0),
        "duplicated": sum(1 for count in per_channel.values() if count > 1),
        "post_attempts": len(attempts),
        "answered_429": sum(1 for call in attempts if call.status == 429),
        "history_reads": history_reads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", default="1000,10000")
    parser.add_argument("--workers", type=int, default=8, help="channels posted in parallel")
    parser.add_argument("--workspace-cap", type=int, default=6000, help="accepted posts/minute")
    parser.add_argument("--ratelimit", type=float, default=0.10, help="share of posts given 429")
    parser.add_argument("--database-url", default=os.environ.get("AI_RACE_BENCH_DATABASE_URL"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "digest.json")
    args = parser.parse_args()
    rows = []
    for channels in (int(x) for x in args.channels.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            url = args.database_url or f"sqlite:///{Path(tmp) / 'digest.sqlite3'}"
            rows.append(run(channels, args, url))
    print(
        f"{'channels':>8} {'seconds':>8} {'floor s':>8} {'x floor':>8} {'lost':>5} "
        f"{'dup':>4} {'posts':>6} {'429s':>5}"
    )
    for r in rows:
        print(
            f"{r['channels']:>8} {r['seconds']:>8.1f} {r['floor_seconds']:>8.1f} "
            f"{r['ratio_to_floor']:>8.2f} {r['lost']:>5} {r['duplicated']:>4} "
            f"{r['post_attempts']:>6} {r['answered_429']:>5}"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {"settings": vars(args) | {"out": str(args.out)}, "rows": rows}, indent=2, default=str
        )
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
