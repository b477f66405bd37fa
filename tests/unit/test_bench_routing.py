"""The routing benchmark (protocol routing-v1) end to end on a small site in the data format."""
from __future__ import annotations

import json

import pytest

from bench import routing
from bench.metrics import ratio_interval, reciprocal_ranks, summarize
from chalicelib.bootstrap import bootstrap
from tests.fakes import FakeEmbedder

TOPICS = {1: ("kafka", "consumer lag partitions offsets"), 2: ("postgresql", "vacuum index bloat"),
          3: ("terraform", "state locking modules"), 4: ("excel", "pivot tables formulas"),
          5: ("payroll", "payslip bonus tax")}


def site(count: int = 60) -> list[dict]:
    """Question i is on topic 1 + i % 5: its expert (user 1..5) answers and is accepted, and
    user 6, who answers everything, answers too. Askers are users 100+."""
    questions = []
    for i in range(count):
        expert = 1 + i % 5
        tag, words = TOPICS[expert]
        questions.append({
            "question_id": 1000 + i, "asker_id": 100 + i, "title": f"{tag} question {i}: {words}",
            "body": f"how do we handle {words} with {tag}", "tags": [tag],
            "accepted_answer_id": 5000 + 2 * i, "accepted_answerer_id": expert,
            "answers": [{"answer_id": 5000 + 2 * i, "answerer_id": expert, "score": 3,
                         "text": f"for {tag} check the {words}"},
                        {"answer_id": 5001 + 2 * i, "answerer_id": 6, "score": 0}]})
    return questions


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setattr(routing, "bootstrap",
                        lambda settings, **kw: bootstrap(settings, embedder=FakeEmbedder(), **kw))
    path = tmp_path / "tiny.jsonl"
    rows = site()
    path.write_text("\n".join(json.dumps(q) for q in reversed(rows)))  # any order on disk
    return path


def test_the_split_follows_the_protocol():
    history, tune, test = routing.split(list(range(61)))
    assert (len(history), len(tune), len(test)) == (42, 6, 13)  # int(0.7n), int(0.8n)
    assert history + tune + test == list(range(61))


def test_a_run_writes_rankings_and_scores_them_against_the_baselines(data, tmp_path, capsys):
    out = tmp_path / "rankings.jsonl"
    assert routing.main([str(data), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    test_ids = [q["question_id"] for q in sorted(site(), key=lambda q: q["question_id"])[48:]]
    assert [line["question_id"] for line in lines] == test_ids
    questions = {q["question_id"]: q for q in site()}
    for line in lines:
        ranking = line["ranking"]
        assert 0 < len(ranking) <= 100 and all(not r.startswith("u") for r in ranking)
        assert str(questions[line["question_id"]]["asker_id"]) not in ranking
    assert report["protocol"] == "routing-v1" and report["relais"]["questions"] == 12
    # The expert of each topic answered every question on it: first, or second behind the
    # one who answers everything.
    assert report["relais"]["Hit@5"] == 1.0 and report["relais"]["MRR"] >= 0.5
    assert {"baseline_bm25_doc_vote", "baseline_popularity"} <= set(report)
    assert report["mrr_ratio_to_bm25"] == pytest.approx(
        report["relais"]["MRR"] / report["baseline_bm25_doc_vote"]["MRR"], rel=1e-2)
    low, high = report["mrr_ratio_ci95"]
    assert low <= report["mrr_ratio_to_bm25"] + 1e-3 and report["mrr_ratio_to_bm25"] <= high + 1e-3


def test_first_fraction_makes_a_pseudo_test_slice(data, tmp_path, capsys):
    out = tmp_path / "pseudo.jsonl"
    assert routing.main([str(data), "--out", str(out), "--first", "0.5"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    ids = [json.loads(line)["question_id"] for line in out.read_text().splitlines()]
    assert report["site"] == "tiny@0.5" and ids == list(range(1024, 1030))
    with pytest.raises(SystemExit):
        routing.main([str(data), "--out", str(out), "--first", "0"])


def test_mrr_counts_only_the_top_100():
    ranks = [1, 4, None, 101]
    assert reciprocal_ranks(ranks) == [1.0, 0.25, 0.0, 0.0]
    assert summarize(ranks)["MRR"] == round(1.25 / 4, 4)


def test_the_ratio_interval_is_paired_and_holds_the_ratio():
    baseline = [1.0, 0.5, 0.0, 0.25, 0.2, 0.0, 1.0, 0.1]
    assert ratio_interval(baseline, baseline) == (1.0, 1.0)  # same draw for both rankings
    assert ratio_interval([2 * x for x in baseline], baseline) == (2.0, 2.0)
    ours = [0.5, 1.0, 0.2, 0.0, 1.0, 0.0, 0.5, 0.1]
    low, high = ratio_interval(ours, baseline, seed=3)
    assert low < sum(ours) / sum(baseline) < high and low < high
    assert ratio_interval(ours, baseline, seed=3) == (low, high)  # seeded: reproducible


def test_the_ratio_interval_needs_one_rank_per_question_for_both():
    with pytest.raises(ValueError):
        ratio_interval([1.0], [1.0, 0.5])
    with pytest.raises(ValueError):
        ratio_interval([], [])
