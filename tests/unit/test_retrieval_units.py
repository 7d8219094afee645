import pytest

from assistant.retrieval import BM25, reciprocal_rank_fusion
from assistant.text import edit_distance, fold, tokens


def test_rrf_adds_reciprocal_ranks_hand_computed() -> None:
    fused = reciprocal_rank_fusion([["a", "b"], ["b", "c"]], k=60)
    assert fused["a"] == pytest.approx(1 / 61)
    assert fused["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert fused["c"] == pytest.approx(1 / 62)
    assert max(fused, key=fused.__getitem__) == "b"


def test_bm25_finds_the_exact_rare_term() -> None:
    texts = [
        "Orchestration: Airflow, Dagster for pipelines",
        "Stakeholders include product and finance",
        "Orchestration of teams and pipelines",
    ]
    scores = BM25(texts).scores("Which orchestrator, Dagster?")
    assert max(scores, key=scores.__getitem__) == 0
    assert 1 not in scores


def test_bm25_respects_the_candidate_subset() -> None:
    bm25 = BM25(["mttr target", "mttr frequency"])
    assert set(bm25.scores("mttr", among=[1])) == {1}


def test_fold_makes_dashes_and_ampersands_plain() -> None:
    assert fold("Data & AI – 75–85%") == "data  and  ai - 75-85%"


def test_tokens_stem_plurals_and_drop_stopwords() -> None:
    assert tokens("What are the KPIs of directors?") == ["kpi", "director"]


def test_edit_distance_gives_up_past_the_limit() -> None:
    assert edit_distance("enginering", "engineering") == 1
    assert edit_distance("abcdef", "uvwxyz", limit=2) == 3
