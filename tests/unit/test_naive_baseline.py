"""The naive baseline on a tiny corpus with a deterministic embedder."""

from __future__ import annotations

import hashlib
import math
import uuid

import chromadb
import pytest
from chromadb.config import Settings as ChromaSettings

from assistant.models import Block, Blueprint, RoleCoverage, Section, Table
from evals.naive import NaiveBaseline, plain_text

KPI_TABLE = Table(
    header=["Metric", "Target"], rows=[["MTTR", "< 2 hours"], ["Bench", "Semiannual"]]
)


class WordHashEmbedder:
    """Bag of hashed words: texts sharing words are near, and the same text always maps alike."""

    name = "word-hash"

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        vector = [0.0] * 64
        for word in text.lower().split():
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]


def blueprint(role: str, sections: list[Section], coverage: RoleCoverage) -> Blueprint:
    role_id = role.lower().replace(" ", "-")
    return Blueprint(
        role=role, role_id=role_id, coverage=coverage, source="s.json", sections=sections
    )


VP = blueprint(
    "VP of Data and AI",
    [
        Section(
            number=7,
            title="KPIs and Productivity Metrics",
            key="kpis",
            blocks=[Block(kind="table", table=KPI_TABLE)],
        ),
        Section(
            number=10,
            title="Tools, Platforms, and Software",
            key="tools",
            subsection="Data",
            blocks=[Block(kind="bullets", items=["Airflow orchestration", "dbt transformation"])],
        ),
    ],
    RoleCoverage.FULL,
)
DEVOPS = blueprint(
    "DevOps Manager",
    [
        Section(
            number=0,
            title="Role Summary",
            key="summary",
            blocks=[
                Block(
                    kind="paragraph", text="The DevOps Manager leads CI/CD and incident management."
                )
            ],
        )
    ],
    RoleCoverage.SUMMARY,
)


@pytest.fixture
def naive() -> NaiveBaseline:
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    return NaiveBaseline(client, WordHashEmbedder(), collection=f"naive-{uuid.uuid4().hex}")


def test_plain_text_prints_headings_blocks_and_table_rows_with_section_spans() -> None:
    text, spans = plain_text(VP)
    assert text.splitlines() == [
        "VP of Data and AI",
        "7) KPIs and Productivity Metrics",
        "Metric Target",
        "MTTR < 2 hours",
        "Bench Semiannual",
        "10) Tools, Platforms, and Software",
        "Data",
        "Airflow orchestration",
        "dbt transformation",
    ]
    assert [(text[s.start : s.end].splitlines()[0], s.subsection) for s in spans] == [
        ("7) KPIs and Productivity Metrics", ""),
        ("10) Tools, Platforms, and Software", "Data"),
    ]


def test_answer_is_the_top_passages_cited_verbatim_and_always_answered(
    naive: NaiveBaseline,
) -> None:
    assert naive.index([VP, DEVOPS]) == 2
    answer = naive.ask("What does the DevOps Manager lead?")
    assert answer.coverage.value == "answered"
    assert [c.n for c in answer.citations] == [1, 2]
    top = answer.citations[0]
    assert (top.role, top.section) == ("DevOps Manager", "Role Summary")
    assert top.quote == naive.chunk_texts[top.chunk_id]
    assert answer.answer.startswith(top.quote + " [1]")
    assert [r.chunk_id for r in answer.trace.retrieved] == [c.chunk_id for c in answer.citations]


def test_a_chunk_belongs_to_the_section_it_overlaps_most() -> None:
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    small = NaiveBaseline(
        client,
        WordHashEmbedder(),
        collection=f"naive-{uuid.uuid4().hex}",
        chunk_size=80,
        chunk_overlap=0,
        top_k=10,
    )
    assert small.index([VP]) == 3
    owners = {c.quote.splitlines()[0]: (c.section, c.subsection) for c in small.ask("x").citations}
    # The first chunk starts with the role line, before any section; the second starts with
    # the last KPI row but is mostly the tools section.
    assert owners == {
        "VP of Data and AI": ("7) KPIs and Productivity Metrics", ""),
        "Bench Semiannual": ("10) Tools, Platforms, and Software", "Data"),
        "dbt transformation": ("10) Tools, Platforms, and Software", "Data"),
    }


def test_indexing_again_replaces_the_collection() -> None:
    client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
    name = f"naive-{uuid.uuid4().hex}"
    NaiveBaseline(client, WordHashEmbedder(), collection=name).index([VP, DEVOPS])
    again = NaiveBaseline(client, WordHashEmbedder(), collection=name)
    again.index([DEVOPS])
    assert {c.role for c in again.ask("anything at all").citations} == {"DevOps Manager"}
