"""Benchmark: the template agent over the whole description corpus, every app built and probed.

What it does, for each description of appgen/tests/corpus.yaml
(questions answered with their defaults): writes the spec, checks whether the
data model names at least two of the three records a person expects, builds
every task of the plan into a temporary directory, runs the app's own tests
(the plan's verify command) and starts the app to exercise every route of
ROUTES.md and every relation of DATA.md over HTTP from outside
(appgen/tests/template_apps.py).

Reported: the share of data models meeting 2 of 3 (required >= 90%), apps built
and passing, tests run, relations probed, and wall time (total, per app p50/max).
Exit status 1 when the share is below 90% or any app fails.

How to run (needs no cluster or database):

    make bench-agent        # or: .venv/bin/python appgen/bench/bench_agent_corpus.py
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import tempfile
import time

# appgen/: the package itself, and its tests' helpers (which build and probe the apps).
APPGEN = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(APPGEN), str(APPGEN / "tests")]

from prazium_appgen import parse_data_md  # noqa: E402
from template_apps import (  # noqa: E402
    build_app,
    documents_with_defaults,
    load_corpus,
    probe_app,
    run_app_tests,
)

REQUIRED_SHARE = 0.9


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="only the first N descriptions")
    args = parser.parse_args()
    corpus = load_corpus()[: args.limit or None]

    started = time.monotonic()
    meeting, failures, durations = 0, [], []
    tests_total = relations_total = 0
    for case in corpus:
        case_started = time.monotonic()
        documents = documents_with_defaults(case.name, case.description)
        names = [entity.name for entity in parse_data_md(documents["DATA.md"])]
        hits = case.hits(names)
        meeting += hits >= 2
        with tempfile.TemporaryDirectory(prefix="prazium-corpus-") as directory:
            root = pathlib.Path(directory)
            try:
                plan = build_app(root, documents)
                passed, tests_run, output = run_app_tests(root, plan)
                if not passed:
                    raise AssertionError(f"app tests failed:\n{output}")
                report = probe_app(root, documents)
            except AssertionError as error:
                failures.append(f"{case.name}: {error}")
                status = "FAIL"
            else:
                tests_total += tests_run
                relations_total += len(report.relation_checks)
                status = f"ok ({tests_run} tests, {len(report.relation_checks)} relations)"
        durations.append(time.monotonic() - case_started)
        print(f"{hits}/3 {case.name:<20} {durations[-1]:5.1f}s {status}  {', '.join(names)}")

    share = meeting / len(corpus)
    total = time.monotonic() - started
    print()
    print(f"descriptions            {len(corpus)}")
    print(f"data models >= 2 of 3   {meeting}/{len(corpus)} ({share:.0%}, required 90%)")
    print(f"apps built and passing  {len(corpus) - len(failures)}/{len(corpus)}")
    print(f"app tests run           {tests_total}")
    print(f"relations probed        {relations_total}")
    print(f"wall time               {total:.1f}s total, per app p50 "
          f"{statistics.median(durations):.1f}s, max {max(durations):.1f}s")  # fmt: skip
    for failure in failures:
        print(f"FAILED {failure[:3000]}")
    return 0 if share >= REQUIRED_SHARE and not failures else 1


if __name__ == "__main__":
    sys.exit(main())
