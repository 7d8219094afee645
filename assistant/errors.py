"""Errors that carry a message a user can act on."""


class BlueprintsError(Exception):
    """Base of every error this project raises on purpose."""


class QuestionError(BlueprintsError, ValueError):
    """The question cannot be asked as given (empty, too long)."""


class EmptyIndexError(BlueprintsError):
    """The index holds no blueprints yet."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"The knowledge base at {where} is empty: run `blueprints ingest` "
            "(with no path it ingests the bundled corpus) and ask again."
        )


class StoreUnavailableError(BlueprintsError):
    """The Chroma store cannot be opened or reached."""


class OutdatedIndexError(BlueprintsError):
    """The index was built by an earlier version and must be rebuilt before it is read."""

    def __init__(self, where: str) -> None:
        super().__init__(
            f"The knowledge base at {where} was built by an earlier version of Blueprint "
            "Assistant: run `blueprints ingest` (or `blueprints reindex`) to rebuild it from "
            "its sources, then ask again."
        )


class EmbeddingModelError(BlueprintsError):
    """The embedding model, or its ONNX export, cannot be loaded, made or trusted."""
