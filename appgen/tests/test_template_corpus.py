"""The template agent against a corpus of everyday app descriptions (corpus.yaml).

Each description comes with the three records a person would expect. The agent
must name at least two of the three in at least 90% of the data models, with
every question answered by its default. A sample of the corpus apps is built
and tested here; appgen/bench/bench_agent_corpus.py (``make bench-agent``) builds,
tests and probes all of them.
"""

from __future__ import annotations

import pathlib

import pytest

from prazium_appgen import parse_data_md, parse_routes_md
from template_apps import (
    CorpusCase,
    build_app,
    documents_with_defaults,
    load_corpus,
    probe_app,
    run_app_tests,
)

REQUIRED_SHARE = 0.9
CORPUS = load_corpus()
SAMPLE = CORPUS[::15]


def test_corpus_is_large_and_varied() -> None:
    assert len(CORPUS) >= 40
    assert len({case.name for case in CORPUS}) == len(CORPUS)
    assert all(len(case.expected) == 3 for case in CORPUS)


def test_data_models_name_the_records_a_person_expects() -> None:
    misses = []
    meeting = 0
    for case in CORPUS:
        documents = documents_with_defaults(case.name, case.description)
        names = [entity.name for entity in parse_data_md(documents["DATA.md"])]
        hits = case.hits(names)
        meeting += hits >= 2
        if hits < 2:
            misses.append(f"{case.name}: {names} (expected {list(case.expected)})")
    share = meeting / len(CORPUS)
    print(f"\ncorpus: {meeting}/{len(CORPUS)} data models name >= 2 of 3 records ({share:.0%})")
    assert share >= REQUIRED_SHARE, "\n".join(misses)


@pytest.mark.parametrize("case", SAMPLE, ids=[case.name for case in SAMPLE])
def test_sample_corpus_apps_build_pass_their_tests_and_answer_the_probe(
    case: CorpusCase, tmp_path: pathlib.Path
) -> None:
    documents = documents_with_defaults(case.name, case.description)
    plan = build_app(tmp_path, documents)
    passed, tests_run, output = run_app_tests(tmp_path, plan)
    assert passed, output
    assert tests_run > 0
    report = probe_app(tmp_path, documents)
    routes = parse_routes_md(documents["ROUTES.md"])
    assert {(method, path) for method, path, _ in report.exercised} == set(routes)
