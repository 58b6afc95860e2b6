"""``ai-race eval QUERIES.tsv [--json]``: file and store in, report out (bot.core.evaluation)."""

from __future__ import annotations

import argparse
import json

from bot.core.catalog import load_catalog
from bot.core.errors import EXIT_OK
from bot.core.evaluation import evaluate, read_rows


def cmd_eval(args: argparse.Namespace) -> int:
    rows = read_rows(args.queries)  # a bad file: EvalFileError, one line, exit 2
    catalog = load_catalog(args.claims)
    report = evaluate(catalog.matcher, rows, catalog.store.ids)
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.as_text())
    return EXIT_OK
