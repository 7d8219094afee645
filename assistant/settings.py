"""The one configuration object of the project, read from `BLUEPRINTS_*` variables and `.env`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LLM_PROVIDERS = ("openai", "ollama", "anthropic")


class Settings(BaseSettings):
    """Every setting of Blueprint Assistant; see README.md for the table of variables."""

    model_config = SettingsConfigDict(
        env_prefix="BLUEPRINTS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Store and corpus
    store_dir: Path = PROJECT_ROOT / ".blueprints" / "chroma"
    chroma_url: str | None = None
    collection: str = "blueprints"
    corpus_dir: Path = PROJECT_ROOT / "data" / "blueprints"

    lock_timeout_s: float = Field(
        default=600.0, ge=0, description="How long an ingest waits for another one to finish"
    )

    # Embedding and chunking
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_model_path: Path | None = None
    # Texts per forward pass of the torch model; the ONNX export runs a few at a time.
    embedding_batch_size: int = Field(default=64, ge=1)
    # Where the one-time ONNX export lives: beside the default index, shared by every store
    # a developer or a test points at, since it depends only on the model.
    models_dir: Path = PROJECT_ROOT / ".blueprints" / "models"
    embedding_backend: Literal["auto", "onnx", "torch"] = "auto"
    embedding_cache_size: int = Field(
        default=1024, ge=0, description="Questions whose vectors are remembered; 0 disables"
    )
    chunk_size: int = Field(
        default=1000, ge=200, description="Upper bound of a chunk, in characters"
    )

    # Retrieval and answering
    top_k: int = Field(default=8, ge=1, le=50)
    max_question_chars: int = Field(default=2000, ge=10)
    llm: str = "none"
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=30.0, gt=0)
    llm_max_tokens: int = Field(default=800, ge=16)

    # Observability
    otel_endpoint: str | None = Field(
        default=None, description="OTLP endpoint that turns tracing on (e.g. http://host:4318)"
    )
    otel_capture_content: bool = Field(
        default=False, description="Put question and answer text on spans (off: only ids)"
    )

    # HTTP service
    api_key: SecretStr | None = None
    metrics_require_key: bool = Field(
        default=True, description="Whether /metrics needs the API key too (when one is set)"
    )
    feedback_db: Path | None = None
    rate_limit_per_minute: int = Field(default=60, ge=1)
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    cors_origins: list[str] = Field(default_factory=list)
    log_format: Literal["json", "text"] = "json"

    # Sync from a WordPress site (`blueprints sync`, and `serve` in the background)
    sync_url: str | None = None
    sync_search: str | None = None
    sync_categories: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Category ids or slugs, comma-separated"
    )
    sync_interval_minutes: float | None = Field(
        default=None, gt=0, description="`serve` syncs the site this often (off when unset)"
    )

    # Slack (the variable names Slack's own docs use, with or without our prefix)
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN", "BLUEPRINTS_SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "BLUEPRINTS_SLACK_SIGNING_SECRET"),
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_APP_TOKEN", "BLUEPRINTS_SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias=AliasChoices("SLACK_API_URL", "BLUEPRINTS_SLACK_API_URL"),
    )

    @field_validator("llm")
    @classmethod
    def _check_llm(cls, value: str) -> str:
        value = value.strip()
        if value.lower() == "none":
            return "none"
        provider, _, model = value.partition(":")
        if provider not in LLM_PROVIDERS or not model:
            msg = (
                f"BLUEPRINTS_LLM={value!r} is not understood; use 'none' or "
                f"'<provider>:<model>' with provider one of {', '.join(LLM_PROVIDERS)} "
                "(e.g. 'openai:gpt-4o-mini', 'ollama:llama3.1')"
            )
            raise ValueError(msg)
        return value

    @field_validator("sync_url", "sync_search", "sync_interval_minutes", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("sync_url")
    @classmethod
    def _check_sync_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            msg = (
                f"BLUEPRINTS_SYNC_URL={value!r} is not a site address; give the WordPress "
                "site's full URL, e.g. https://example.com/blog"
            )
            raise ValueError(msg)
        return value.rstrip("/")

    @field_validator("sync_categories", mode="before")
    @classmethod
    def _split_categories(cls, value: object) -> object:
        # Comma-separated, as people write them in a .env file (`leadership,24486`).
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _check_sync_interval(self) -> Settings:
        if self.sync_interval_minutes is not None and self.sync_url is None:
            msg = (
                "BLUEPRINTS_SYNC_INTERVAL_MINUTES needs BLUEPRINTS_SYNC_URL: set the site to "
                "sync, or unset the interval"
            )
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _check_slack_pair(self) -> Settings:
        if bool(self.slack_bot_token) != bool(self.slack_signing_secret):
            msg = "Slack needs both SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or neither)"
            raise ValueError(msg)
        return self

    @property
    def llm_provider(self) -> str | None:
        """The chat-model provider, or None for the extractive answerer."""
        return None if self.llm == "none" else self.llm.partition(":")[0]

    @property
    def llm_model(self) -> str | None:
        """The chat model's name at its provider."""
        return None if self.llm == "none" else self.llm.partition(":")[2]

    @property
    def slack_enabled(self) -> bool:
        """Whether the Slack app should be mounted."""
        return self.slack_bot_token is not None and self.slack_signing_secret is not None

    @property
    def lock_path(self) -> Path:
        """The writer lock of the index: beside an embedded store, per server URL otherwise.

        A lock file serialises writers on one host; writers on several hosts sharing one
        Chroma server must be kept to one at a time by the operator (see README).
        """
        if self.chroma_url:
            slug = re.sub(r"[^A-Za-z0-9.-]+", "_", self.chroma_url).strip("_")
            return self.store_dir.parent / "locks" / f"{slug}-{self.collection}.lock"
        return self.store_dir.parent / f"{self.store_dir.name}-{self.collection}.lock"

    @property
    def onnx_export_dir(self) -> Path:
        """The ONNX export of the configured embedding model."""
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", self.embedding_model).strip("._") or "model"
        return self.models_dir / folder

    @property
    def feedback_path(self) -> Path:
        """Where feedback is stored: beside the index unless set."""
        return self.feedback_db or self.store_dir.parent / "feedback.sqlite3"
