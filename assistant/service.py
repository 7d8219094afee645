"""The assistant facade every interface (CLI, HTTP API, Slack, evals) talks to."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from assistant.models import Answer, RoleDetail, RoleInfo, StreamEvent, Turn

if TYPE_CHECKING:
    from assistant.answering import Answerer
    from assistant.embeddings import Embedder
    from assistant.settings import Settings
    from assistant.store import ChunkStore


class Assistant:
    """Answers questions about the blueprints in a store.

    Thread-safe: one instance serves every request of a process.
    """

    def __init__(
        self,
        settings: Settings,
        store: ChunkStore,
        embedder: Embedder,
        answerer: Answerer | None = None,
    ) -> None:
        raise NotImplementedError

    def ask(
        self, question: str, history: Sequence[Turn] = (), role: str | None = None
    ) -> Answer:
        """Answer one question (raises `QuestionError`, `EmptyIndexError`)."""
        raise NotImplementedError

    def stream(
        self, question: str, history: Sequence[Turn] = (), role: str | None = None
    ) -> Iterator[StreamEvent]:
        """Answer as a stream: `delta` events with text, then one `final` event with the answer."""
        raise NotImplementedError

    def roles(self) -> list[RoleInfo]:
        """The role catalogue."""
        raise NotImplementedError

    def role_detail(self, role_id: str) -> RoleDetail | None:
        """One role with the text of its sections, or None when it is not in the store."""
        raise NotImplementedError

    def chunk_count(self) -> int:
        """How many chunks the index holds (0 when empty)."""
        raise NotImplementedError


def build_assistant(settings: Settings) -> Assistant:
    """Build the heavy objects once (model, Chroma client, answerer) and wire them."""
    raise NotImplementedError
