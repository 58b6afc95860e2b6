"""Store start-up and memory: cold and warm load, one-file reload, a 2-worker server's PSS.

For each N (a generated store, see make_store.py), each step in a fresh process:

* **cold**: ``load_catalog`` (validate + index) with an empty parse cache;
* **warm**: the same with the cache the cold step left (a restart);
* **parse** (not run by default): ``validate_dir`` alone with an empty parse
  cache of its own: the cold load's file parsing (the parse workers) and the
  store's checks, without the index;
* **reload one file**: a loaded ``CatalogHolder``, one claim file overwritten
  in place, then ``reload_if_changed()`` timed (wall and CPU) until the new
  text is served, and whether it patched the catalog or loaded it whole;
* **server**: ``ai-race serve --workers 2`` (gunicorn, preload) on the warm
  cache (``server-cold``, not run by default: on an empty one; ``server-reload``,
  not by default either: then one claim file changed in place and PSS measured
  again once every answer process reloaded it and 200 more queries
  were answered; it edits the store, so give it a private copy), against the
  mock Slack Web API: time from spawn to the first signed
  ``/ai-race`` answer delivered to its ``response_url``, then RSS of each process
  and the total PSS (``/proc/PID/smaps_rollup``: shared pages divided among the
  processes sharing them, so the sum is what the dyno really holds) after 200
  queries, so pages touched by answering are counted.

Wall time and CPU time (user + system) are both reported: on a shared machine
the CPU seconds are the steadier figure. A cold load parses files in worker
processes: their CPU is ``parse_workers_cpu_s``, not part of ``load_cpu_s``.

    python bench/store_bench.py --sizes 10000,100000 [--out bench/results/store.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import common  # noqa: E402

from tests.support.app_server import (  # noqa: E402
    BOT_TOKEN,
    SIGNING_SECRET,
    children,
    free_port,
)
from tests.support.mock_slack import MockSlack  # noqa: E402
from tests.support.signing import FORM, post, signed_headers, slash_command_body  # noqa: E402

MB = 1024 * 1024
QUERIES = ["deepseek open source", "nvidia chips export", "hasabis", "sora audio", "lunch"]

_STEP = """
import json, os, resource, sys, time
from pathlib import Path
from typing import IO
t0, c0 = time.perf_counter(), time.process_time()
if sys.argv[2] == "parse":
    from bot.core.store import validate_dir
    store, problems = validate_dir(Path(sys.argv[1]))
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(json.dumps({"load_s": time.perf_counter() - t0, "load_cpu_s": time.process_time() - c0,
                      "parse_workers_cpu_s": kids.ru_utime + kids.ru_stime,
                      "claims": len(store or ()), "problems": len(problems)}))
    sys.exit()
from bot.core.catalog import CatalogHolder, load_catalog
catalog = load_catalog(Path(sys.argv[1]))
kids = resource.getrusage(resource.RUSAGE_CHILDREN)
out = {"load_s": time.perf_counter() - t0, "load_cpu_s": time.process_time() - c0,
       "parse_workers_cpu_s": kids.ru_utime + kids.ru_stime,
       "claims": len(catalog.store), "bodies_mb": catalog.store.body_bytes / 2**20,
       "index_arrays_mb": catalog.matcher.memory_bytes() / 2**20}
for line in open("/proc/self/status"):
    if line.startswith("VmRSS"):
        out["rss_mb"] = int(line.split()[1]) / 1024
out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if sys.argv[2] == "reload":
    holder = CatalogHolder(catalog)
    path = sorted(Path(sys.argv[1]).glob("*.yaml"))[len(catalog.store) // 2]
    text = path.read_text()
    marker = "Reloaded title for the benchmark"
    start = text.index("title:")
    end = text.index("\\n", start)
    with path.open("r+") as handle:
        handle.write(text[:start] + "title: " + marker + text[end:])
        handle.truncate()
    t1, c1 = time.perf_counter(), time.process_time()
    problems = holder.reload_if_changed()
    out["reload_s"] = time.perf_counter() - t1
    out["reload_cpu_s"] = time.process_time() - c1
    out["reload_ok"] = not problems and holder.current.store.get(path.stem).title == marker
    out["reload_kind"] = type(holder.current.matcher.index).__name__  # DeltaIndex: patched
    path.write_text(text)
print(json.dumps(out))
"""


def _step(directory: Path, cache: Path, mode: str) -> dict:
    env = {**os.environ, "AI_RACE_CACHE": str(cache)}
    done = subprocess.run(
        [sys.executable, "-c", _STEP, str(directory), mode],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _memory(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB, from smaps_rollup."""
    values = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        parts = line.split()
        if parts and parts[0] in ("Rss:", "Pss:"):
            values[parts[0]] = int(parts[1]) / 1024
    return values["Rss:"], values["Pss:"]


def _descendants(pid: int) -> list[int]:
    return [d for c in children(pid) for d in (c, *_descendants(c))]


def _signed(body: str) -> dict[str, str]:
    return signed_headers(body, SIGNING_SECRET, content_type=FORM)


def _edit_title(path: Path, title: str) -> str:
    """Overwrite ``path``'s title in place; return the old text (to put back)."""
    text = path.read_text()
    start = text.index("title:")
    end = text.index("\n", start)
    with path.open("r+") as handle:
        handle.write(text[:start] + "title: " + title + text[end:])
        handle.truncate()
    return text


def _wait_for_reloads(lines: list[str], watchers: int, process: subprocess.Popen) -> float:
    """Seconds until ``watchers`` processes logged a patched (or reloaded) store."""
    started = time.monotonic()
    while time.monotonic() - started < 300:
        done = sum(
            "claim store patched" in line or "claim store reloaded" in line for line in lines
        )
        if done >= watchers:
            return time.monotonic() - started
        if process.poll() is not None:
            raise RuntimeError("ai-race serve exited")
        time.sleep(0.5)  # the watchers poll every 30 s: nothing to wait on but the log
    raise RuntimeError(f"the store was not reloaded within 300 s: {lines[-5:]}")


def _drain(stream: IO[str], lines: list[str]) -> None:
    """Keep the server's log lines (and echo them, as an unpiped server would)."""
    for line in stream:
        lines.append(line)
        sys.stderr.write(line)


def _ask(url: str, mock: MockSlack, queries: int, tag: str) -> None:
    for i in range(queries):
        text = QUERIES[i % len(QUERIES)]
        body = slash_command_body(text, response_url=mock.response_url(f"{tag}{i}"))
        post(url, body, _signed(body), timeout=10)


def _reload_in_server(
    path: Path, lines: list[str], watchers: int, process: subprocess.Popen, ask: Callable[[], None]
) -> dict:
    """Change ``path``, wait for every watcher to reload it, ask again; PSS before it."""
    before = sum(_memory(pid)[1] for pid in [process.pid, *_descendants(process.pid)])
    old_text = _edit_title(path, "Open source chip export models from China")
    try:
        wait = _wait_for_reloads(lines, watchers, process)
    finally:
        path.write_text(old_text)
    ask()
    return {"reload_wait_s": wait, "pss_before_reload_mb": before}


def _server(
    directory: Path,
    cache: Path,
    workers: int,
    queries: int,
    reload_path: Path | None = None,
    watchers: int | None = None,
) -> dict:
    """See the module docstring; ``reload_path``: change that file once serving (server-reload)."""
    with MockSlack() as mock, tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "AI_RACE_CACHE": str(cache),
            "AI_RACE_CLAIMS": str(directory),
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": mock.base_url,
            "DATABASE_URL": f"sqlite:///{tmp}/state.sqlite3",
            "PORT": str(port),
        }
        verbose = ["-v"] if reload_path else []  # the watchers' log says when they reloaded
        command = [sys.executable, "-m", "bot", *verbose, "serve", "--host", "127.0.0.1"]
        command += ["--workers", str(workers)]
        url = f"http://127.0.0.1:{port}/slack/events"
        started = time.perf_counter()
        piped = subprocess.PIPE if reload_path else None
        process = subprocess.Popen(command, env=env, cwd=ROOT, stderr=piped, text=True)
        lines: list[str] = []
        if process.stderr is not None:
            threading.Thread(target=_drain, args=(process.stderr, lines), daemon=True).start()
        reloaded: dict = {}
        try:
            first = None
            deadline = time.monotonic() + 1500
            while first is None and time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError("ai-race serve exited")
                body = slash_command_body(QUERIES[0], response_url=mock.response_url("first"))
                try:
                    status, _, _ = post(url, body, _signed(body), timeout=5)
                except OSError:
                    status = 0
                if status == 200:
                    mock.wait_for("response", 1, timeout=60)
                    first = time.perf_counter() - started
                else:
                    time.sleep(0.2)  # the server is still loading: nothing to wait on
            if first is None:
                raise RuntimeError("ai-race serve gave no answer within 1500 s")
            _ask(url, mock, queries, "q")
            if reload_path is not None:
                ask = functools.partial(_ask, url, mock, queries, "r")
                # Each worker's answer process runs a claim watcher (the workers none).
                count = watchers or workers
                reloaded = _reload_in_server(reload_path, lines, count, process, ask)
            worker_pids = children(process.pid)
            # Each worker's answer supervisor and answer process (bot.answer_process) count too.
            helpers = [d for w in worker_pids for d in _descendants(w)]
            pids = [process.pid, *worker_pids, *helpers]
            memory = {pid: _memory(pid) for pid in pids}
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "first_answer_s": first,
        "workers": workers,
        "master_rss_mb": memory[pids[0]][0],
        "worker_rss_mb": [memory[p][0] for p in worker_pids],
        "answer_process_rss_mb": [memory[p][0] for p in helpers],
        "total_pss_mb": sum(pss for _, pss in memory.values()),
        **reloaded,
    }


STEPS = ("cold", "warm", "reload", "server")
# server-cold: the server started on an empty cache (a new dyno's disk); server-reload:
# the warm server, then one claim file changed (PSS once every process reloaded it);
# parse: validate_dir alone on an empty cache (the parse workers' share of a cold load).
EXTRA_STEPS = ("server-cold", "server-reload", "parse")


def bench_size(
    n: int,
    store: Path | None,
    workers: int,
    queries: int,
    steps: tuple[str, ...] = STEPS,
    *,
    cache: Path | None = None,
    watchers: int | None = None,
) -> dict:
    """The steps asked for, in order, sharing one parse cache (empty at the first step
    unless ``cache`` names one to keep); ``watchers``: claim watchers in the server."""
    directory = store or common.ensure_store(n)[0]
    result: dict = {"n": n}
    with tempfile.TemporaryDirectory(prefix="ai-race-store-bench-") as tmp:
        cache = cache or Path(tmp) / "cache"
        for step in steps:
            if step == "server":
                result[step] = _server(directory, cache, workers, queries)
            elif step == "server-cold":
                result[step] = _server(directory, Path(tmp) / "empty", workers, queries)
            elif step == "server-reload":
                files = sorted(directory.glob("*.yaml"))
                path = files[len(files) // 2]
                result[step] = _server(
                    directory, cache, workers, queries, reload_path=path, watchers=watchers
                )
            elif step == "parse":
                result[step] = _step(directory, Path(tmp) / "parse-cache", "parse")
            else:
                result[step] = _step(directory, cache, "reload" if step == "reload" else "load")
    return result


def print_table(results: list[dict]) -> None:
    print(
        f"{'N':>8} {'cold s (cpu)':>14} {'warm s (cpu)':>14} {'reload 1 s':>11} "
        f"{'RSS MB':>7} {'bodies MB':>9} {'first answer s':>15} {'worker RSS MB':>15} "
        f"{'PSS MB':>7}"
    )
    for r in results:
        if set(STEPS) - r.keys():
            print(f"{r['n']:>8} (partial run) {json.dumps(r)}")
            continue
        c, w, s = r["cold"], r["warm"], r["server"]
        workers = "/".join(f"{x:.0f}" for x in s["worker_rss_mb"])
        print(
            f"{r['n']:>8} {c['load_s']:>7.1f} ({c['load_cpu_s']:>4.1f}) "
            f"{w['load_s']:>7.1f} ({w['load_cpu_s']:>4.1f}) {r['reload']['reload_s']:>11.2f} "
            f"{w['rss_mb']:>7.0f} {w['bodies_mb']:>9.0f} {s['first_answer_s']:>15.1f} "
            f"{workers:>15} {s['total_pss_mb']:>7.0f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument(
        "--store",
        type=Path,
        action="append",
        default=[],
        help="an existing store directory for each size, in order (default: generate)",
    )
    parser.add_argument("--workers", type=int, default=2)
    every = ",".join(STEPS + EXTRA_STEPS)
    parser.add_argument("--steps", default=",".join(STEPS), help="a subset of " + every)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--cache",
        type=Path,
        help="the parse and index cache to use and keep (default: a new one, deleted after)",
    )
    parser.add_argument(
        "--watchers",
        type=int,
        help="claim watchers server-reload waits for (default: one per worker; 2 per "
        "worker before the workers stopped watching)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "store.json")
    args = parser.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")]
    stores = dict(zip(sizes, args.store, strict=False))
    results = []
    for n in sizes:
        steps = tuple(args.steps.split(","))
        results.append(
            bench_size(
                n,
                stores.get(n),
                args.workers,
                args.queries,
                steps,
                cache=args.cache,
                watchers=args.watchers,
            )
        )
        print(json.dumps(results[-1]), file=sys.stderr)
    print_table(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
