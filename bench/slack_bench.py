"""End to end through Slack's path: signed slash commands against the production server.

Starts ``ai-race serve`` (gunicorn, 2 workers) and, as the floor, a Bolt app
that only acks, served the same way; a local mock Web API receives the
answers. For 1, 10 and 50 concurrent clients it measures the time from
sending a signed request to receiving the ack, requests per second, errors
and "busy" acks (acked in time, but the answer queue was full, so no answer
follows), and checks every other command reached its response_url.

With ``--rate-limited N`` (default 8) each level for ``ai-race serve`` is run a
second time while N mention replies are being rate-limited (the mock answers
them 429, Retry-After 20): acks must not notice (issue 11).

All three servers stay up for the whole run, and each level is measured on
the floor, on ``ai-race serve`` (plain, then rate-limited) and on the stock
Bolt floor in turn, so on a shared machine they meet nearly the same load.

The clients run in a process of their own, apart from the mock Web API. In
one process, the mock's handling of every answer posted to a ``response_url``
(a thread per post, HTTP parsing, JSON) took the clients' GIL and CPU while
they waited for acks: about 1 ms of CPU and 7 context switches per request,
charged to the ack times of ``ai-race serve`` only, since the floors post
nothing. Slack's senders and receivers do not share an interpreter.

    python bench/slack_bench.py [--requests 200] [--rate-limited 8] [--out bench/results/slack.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.answers import BUSY_TEXT  # noqa: E402
from tests.support.app_server import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    RunningApp,
    children,
    free_port,
    running_app,
)
from tests.support.mock_slack import MockSlack  # noqa: E402
from tests.support.signing import (  # noqa: E402
    FORM,
    JSON,
    event_body,
    post,
    signed_headers,
    slash_command_body,
)

QUERIES = [
    "distillation",
    "what did jensen say about deepseek?",
    "open source models",
    "hasabis",
    "Chinese open models now top the open leaderboards",
    "sora 2 audio",
    "tiktok ai tools",
    "lunch menu for friday",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes (all their threads), from /proc/PID/stat."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def web_processes(pid: int) -> list[int]:
    """A gunicorn master and its workers (not the workers' answer processes)."""
    return [pid, *children(pid)]


def answer_processes(pid: int) -> list[int]:
    """Each worker's answer supervisor and answer process (bot.answer_process), if any."""
    return [a for w in children(pid) for s in children(w) for a in (s, *children(s))]


def send_commands(
    url: str, response_url: str, clients: int, total: int
) -> tuple[list[float], int, int]:
    """``total`` signed commands from ``clients`` closed-loop clients: latencies, errors, busy.

    Runs in the client process (see the module docstring); each command's
    ``response_url`` is ``response_url`` plus a key of its own.
    """
    latencies: list[float] = []
    errors = busy = 0
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        nonlocal errors, busy
        for i in counter:
            body = slash_command_body(
                QUERIES[i % len(QUERIES)], response_url=f"{response_url}b{clients}-{i}"
            )
            headers = signed_headers(body, SIGNING_SECRET, content_type=FORM)
            start = time.perf_counter()
            try:
                status, _, ack = post(url, body, headers, timeout=10)
            except OSError:
                status, ack = 0, b""
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if status != 200:
                    errors += 1
                elif BUSY_TEXT.encode() in ack:
                    busy += 1  # acked in time, but told "busy": no answer will follow

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors, busy


def load(
    url: str,
    mock: MockSlack,
    clients: int,
    total: int,
    senders: Executor,
    pid: int | None = None,
) -> dict[str, float]:
    """One level, sent from the client process ``senders`` (and ``pid``'s web CPU)."""
    web = web_processes(pid) if pid else []
    cpu_before = cpu_seconds(web)
    began = time.perf_counter()
    latencies, errors, busy = senders.submit(
        send_commands, url, mock.response_url(""), clients, total
    ).result()
    wall = time.perf_counter() - began
    web_cpu = cpu_seconds(web) - cpu_before
    return {
        "web_cpu_ms_per_request": web_cpu * 1000 / total if web else float("nan"),
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "busy": busy,
        "ack_median_ms": statistics.median(latencies) * 1000,
        "ack_p99_ms": percentile(latencies, 0.99) * 1000,
        "ack_max_ms": max(latencies) * 1000,
        "rps": len(latencies) / wall,
    }


def _expected(row: dict[str, float]) -> int:
    """Commands that must reach their response_url: all but failed and "busy" acks."""
    return int(row["requests"] - row["errors"] - row["busy"])


def rate_limit_replies(url: str, mock: MockSlack, count: int, level: int) -> None:
    """Leave ``count`` mention replies waiting on a 429 (Retry-After 20) before the load starts."""
    mock.fail_next("chat.postMessage", status=429, retry_after=20, count=count)
    for n in range(count):
        event = {
            "type": "app_mention",
            "user": "U123",
            "channel": "C9",
            "text": "<@UBOT> open source models",
            "ts": f"{level}.{n}",
        }
        body = event_body(event, event_id=f"EvBench{level}x{n}")
        status, _, _ = post(url, body, signed_headers(body, SIGNING_SECRET, content_type=JSON))
        assert status == 200, status
    mock.wait_for("chat.postMessage", count, status=429, timeout=30)


def floor_server(api_url: str, *extra: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": api_url,
    }
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "floor_app.py"), "--port", str(port), *extra],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("floor app did not start")


@contextlib.contextmanager
def floor_running(mock: MockSlack, senders: Executor, *extra: str) -> Iterator[tuple[str, int]]:
    process, url = floor_server(mock.base_url, *extra)
    try:
        load(f"{url}/slack/events", mock, 5, 40, senders)  # warm-up
        yield f"{url}/slack/events", process.pid
    finally:
        process.terminate()
        process.wait(timeout=15)


STOCK = "stock Bolt floor (ack only)"
FLOOR = "floor (ack only)"
PLAIN = "ai-race serve"


def ours(
    app: RunningApp, mock: MockSlack, senders: Executor, clients: int, requests: int, limited: int
) -> dict:
    """One level against ai-race serve, with ``limited`` replies rate-limited first."""
    mock.reset()
    if limited:
        rate_limit_replies(app.events_url, mock, limited, clients)
    answering = answer_processes(app.process.pid)
    cpu_before = cpu_seconds(answering)
    row = load(app.events_url, mock, clients, requests, senders, app.process.pid)
    row["answered"] = len(mock.wait_for("response", _expected(row), timeout=60))
    row["answer_cpu_ms_per_request"] = (cpu_seconds(answering) - cpu_before) * 1000 / requests
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per concurrency level")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--rate-limited", type=int, default=8, help="replies held by 429 (0: skip)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "slack.json")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    limited = f"ai-race serve, {args.rate_limited} replies rate-limited"
    names = [PLAIN, FLOOR, *([limited] if args.rate_limited else []), STOCK]
    results: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with contextlib.ExitStack() as stack:
        # Spawned, not forked: this process already runs the mock's threads.
        spawn = multiprocessing.get_context("spawn")
        senders = stack.enter_context(ProcessPoolExecutor(1, mp_context=spawn))
        mock = stack.enter_context(MockSlack())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        app = stack.enter_context(running_app(mock.base_url, f"sqlite:///{tmp / 'b.sqlite3'}", tmp))
        load(app.events_url, mock, 5, 40, senders)  # warm-up
        floor = stack.enter_context(floor_running(mock, senders))
        stock = stack.enter_context(floor_running(mock, senders, "--bolt-default"))
        # All servers stay up; each level is measured on each in turn, seconds apart,
        # so a shared machine's load drifts less between ours and the floors.
        for clients in levels:
            results[FLOOR].append(load(floor[0], mock, clients, args.requests, senders, floor[1]))
            results[PLAIN].append(ours(app, mock, senders, clients, args.requests, 0))
            if args.rate_limited:
                row = ours(app, mock, senders, clients, args.requests, args.rate_limited)
                results[limited].append(row)
            results[STOCK].append(load(stock[0], mock, clients, args.requests, senders, stock[1]))

    print(
        f"{'server':<40} {'clients':>7} {'reqs':>5} {'errors':>6} {'busy':>5} {'median ms':>10} "
        f"{'p99 ms':>8} {'max ms':>8} {'req/s':>7} {'web CPU ms/req':>14}"
    )
    for name, rows in results.items():
        for r in rows:
            print(
                f"{name:<40} {r['clients']:>7} {r['requests']:>5} {r['errors']:>6} "
                f"{r['busy']:>5} "
                f"{r['ack_median_ms']:>10.1f} {r['ack_p99_ms']:>8.1f} {r['ack_max_ms']:>8.1f} "
                f"{r['rps']:>7.0f} {r['web_cpu_ms_per_request']:>14.2f}"
            )
    for name in [n for n in results if "floor" not in n]:
        for mine, floor_row in zip(results[name], results[FLOOR], strict=True):
            ratio = mine["ack_p99_ms"] / floor_row["ack_p99_ms"]
            print(f"{name}: p99 at {mine['clients']} clients is {ratio:.2f}x the floor")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
