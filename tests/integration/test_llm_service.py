"""The assistant with a chat model, end to end against an OpenAI-compatible server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.embeddings import SentenceTransformerEmbedder
from assistant.llm import LLMAnswerer, build_chat_model
from assistant.models import AnswerCoverage, Turn
from assistant.service import Assistant, open_store
from assistant.settings import Settings
from tests.support.openai_stub import ChatStub, Reply

pytestmark = pytest.mark.integration

QUESTION = "What KPIs does the VP of Data and AI own?"


@pytest.fixture
def stub() -> Iterator[ChatStub]:
    with ChatStub() as server:
        yield server


def llm_assistant(
    bundled_settings: Settings,
    embedder: SentenceTransformerEmbedder,
    stub: ChatStub,
    timeout_s: float = 5.0,
) -> Assistant:
    settings = bundled_settings.model_copy(
        update={
            "llm": "openai:stub-model",
            "llm_base_url": stub.openai_base_url,
            "llm_timeout_s": timeout_s,
        }
    )
    model = build_chat_model(settings)
    assert model is not None
    return Assistant(settings, open_store(settings), embedder, LLMAnswerer(model, settings), model)


def test_llm_answer_is_grounded_in_the_passages_it_was_given(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    # The passages are the KPI table's rows, in order: the 3rd is dataset SLAs, the 5th MTTR.
    stub.script("The VP owns critical dataset SLA attainment [3] and MTTR for data incidents [5].")
    answer = llm_assistant(bundled_settings, embedder, stub).ask(QUESTION)
    assert answer.trace.answerer == "llm:openai:stub-model"
    assert answer.coverage is AnswerCoverage.ANSWERED
    assert [c.n for c in answer.citations] == [1, 2]
    assert "[1]" in answer.answer and "[2]" in answer.answer and "[5]" not in answer.answer
    assert [c.quote.split(" | ")[0] for c in answer.citations] == [
        "Metric name: Critical dataset SLA attainment",
        "Metric name: MTTR for data/AI incidents",
    ]
    texts = {c.id: c.text for c in open_store(bundled_settings).all_chunks()}
    assert all(c.quote in texts[c.chunk_id] for c in answer.citations)
    prompt = stub.received[0].messages[1]["content"]
    assert (
        "KPIs and Productivity Metrics" in prompt
        and "Metric name: MTTR for data/AI incidents" in prompt
    )


def test_out_of_range_markers_are_dropped_and_logged_in_the_trace(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script("Dataset SLAs matter [1]; so does a KPI nobody gave me [42].")
    answer = llm_assistant(bundled_settings, embedder, stub).ask(QUESTION)
    assert "[42]" not in answer.answer
    assert len(answer.citations) == 1
    assert any("42" in note for note in answer.trace.dropped_citations)


def test_answer_without_citations_falls_back_to_extractive_and_says_so(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script("The VP owns everything, trust me.")
    answer = llm_assistant(bundled_settings, embedder, stub).ask(QUESTION)
    assert answer.trace.answerer == "extractive"
    assert "trust me" not in answer.answer
    assert "quotes them directly" in answer.answer
    assert len(answer.citations) >= 22


def test_slow_server_times_out_into_the_extractive_answer(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script(Reply("too late [1]", delay_s=10))
    answer = llm_assistant(bundled_settings, embedder, stub, timeout_s=0.3).ask(QUESTION)
    assert answer.trace.answerer == "extractive"
    assert any("failed" in note for note in answer.trace.notes)
    assert answer.citations


def test_server_error_falls_back_to_extractive(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script(Reply(status=500))
    answer = llm_assistant(bundled_settings, embedder, stub).ask(QUESTION)
    assert answer.trace.answerer == "extractive" and answer.citations


def test_stream_relays_the_models_tokens_then_the_validated_answer(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script("Tier-1 dataset SLAs [3] and MTTR [5] [42].")
    events = list(llm_assistant(bundled_settings, embedder, stub).stream(QUESTION))
    deltas = "".join(e.text for e in events if e.kind == "delta")
    assert deltas == "Tier-1 dataset SLAs [3] and MTTR [5] [42]."
    final = events[-1].answer
    assert final is not None and [c.n for c in final.citations] == [1, 2]
    assert "[42]" not in final.answer
    assert stub.received[0].streamed


def test_follow_up_is_condensed_by_the_model_before_retrieval(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    stub.script("What KPIs does the VP of Data and AI own?", "MTTR is tracked monthly [1].")
    history = [
        Turn(role="user", content="Tell me about the VP of Data and AI"),
        Turn(role="assistant", content="…"),
    ]
    answer = llm_assistant(bundled_settings, embedder, stub).ask("and their KPIs?", history)
    assert len(stub.received) == 2
    assert "Tell me about the VP of Data and AI" in str(stub.received[0].messages)
    assert answer.trace.question == "and their KPIs?"
    assert answer.trace.standalone_question == "What KPIs does the VP of Data and AI own?"
    assert answer.roles == ["VP of Data and AI"]


def test_partial_and_not_found_answers_do_not_call_the_model(
    bundled_settings: Settings, embedder: SentenceTransformerEmbedder, stub: ChatStub
) -> None:
    assistant = llm_assistant(bundled_settings, embedder, stub)
    assert assistant.ask("What KPIs does a Director of SRE own?").coverage is AnswerCoverage.PARTIAL
    assert assistant.ask("What is the capital of France?").coverage is AnswerCoverage.NOT_FOUND
    assert stub.received == []
