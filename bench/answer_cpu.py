"""CPU of the answers themselves, as the answer process runs them: compute, then post.

Each slash command of a query file becomes the job the web worker hands over
(:class:`bot.jobs.AnswerJob`), run by :class:`bot.runner.JobRunner` and posted
to a ``response_url`` on the mock Web API. The CPU is the answering thread's
own (``time.thread_time``), so the mock's threads in this process do not count;
"compute" is the search and the rendering (Block Kit, validated), "post" the
HTTP request with slack_sdk's ``WebhookClient``. ``--profile`` prints the top
of a cProfile run over the same answers (CPU time). ``--dump`` writes every
posted body, sorted, to compare two versions' answers byte for byte.

    python bench/answer_cpu.py [--rounds 4] [--queries tests/data/public_queries.tsv]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import json
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.app_server import BOT_TOKEN, SIGNING_SECRET  # noqa: E402
from tests.support.mock_slack import MockSlack  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--queries", type=Path, default=ROOT / "tests/data/public_queries.tsv")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--dump", type=Path, help="write the posted bodies here (JSON)")
    args = parser.parse_args()
    with args.queries.open() as rows:
        queries = [row["query"] for row in csv.DictReader(rows, delimiter="\t")]
    with MockSlack() as mock, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            SLACK_BOT_TOKEN=BOT_TOKEN,
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=mock.base_url,
            DATABASE_URL=f"sqlite:///{Path(tmp) / 'answers.sqlite3'}",
        )
        from bot.jobs import AnswerJob, JobKind, response_url_target
        from bot.runner import JobRunner
        from bot.serve import build_services
        from bot.settings import load_settings

        runner = JobRunner(build_services(load_settings()))

        def answer(key: str, query: str) -> tuple[float, float]:
            target = response_url_target(mock.response_url(key), "T1")
            job = AnswerJob(JobKind.COMMAND, target, {"text": query, "team_id": "T1"})
            run = runner.answer(job)
            started = time.thread_time()
            run.message = run.compute()
            computed = time.thread_time()
            run.run()  # posts the message computed above
            return computed - started, time.thread_time() - computed

        for n, query in enumerate(queries):  # warm-up
            answer(f"w{n}", query)
        totals = [answer(f"{r}-{n}", q) for r in range(args.rounds) for n, q in enumerate(queries)]
        compute = sum(c for c, _ in totals) / len(totals) * 1000
        post = sum(p for _, p in totals) / len(totals) * 1000
        print(
            f"{len(totals)} answers: compute {compute:.3f} ms, post {post:.3f} ms, "
            f"total {compute + post:.3f} ms of CPU per answer (answering thread)"
        )
        if args.dump:
            bodies = [call.params for call in mock.calls_to("response")]
            args.dump.write_text(json.dumps(bodies, sort_keys=True, indent=1))
        if args.profile:
            profile = cProfile.Profile(time.thread_time)
            profile.enable()
            for n, query in enumerate(queries):
                answer(f"p{n}", query)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
