"""LangChain chat models behind the answerer seam: build one from settings, answer, condense."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

import httpx
from langchain_core.exceptions import ModelConnectionError, ModelTimeoutError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from assistant.answering import AnswerContext, Draft
from assistant.errors import BlueprintsError

if TYPE_CHECKING:
    from assistant.models import Turn
    from assistant.settings import Settings

logger = logging.getLogger(__name__)

# OpenAI-compatible servers (vLLM, llama.cpp) ignore the key, but the OpenAI client insists on one.
PLACEHOLDER_API_KEY = "not-needed"
# A follow-up rarely refers further back; bounding the history bounds the prompt.
CONDENSE_TURNS = 6
CONDENSE_TURN_CHARS = 1000
_TRUNCATED = frozenset({"length", "max_tokens"})


FailureKind = Literal["timeout", "connection", "http", "error"]


class LLMError(BlueprintsError):
    """The chat model did not answer (timeout, HTTP error, unreachable): answer without it."""

    def __init__(self, message: str, kind: FailureKind = "error") -> None:
        super().__init__(message)
        self.kind: FailureKind = kind


def build_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model `BLUEPRINTS_LLM` names, or None for the extractive answerer.

    Provider packages are imported here, not at module level: the Anthropic SDK alone
    takes over a second to import, and most runs use one provider or none.

    Raises:
        LLMError: The model cannot be configured (e.g. no API key for the hosted OpenAI API).
    """
    provider, name = settings.llm_provider, settings.llm_model
    if provider is None or name is None:
        return None
    from langchain.chat_models import init_chat_model

    try:
        model = init_chat_model(name, model_provider=provider, **_provider_options(settings))
    except Exception as exc:  # the SDKs raise their own error types for a missing key
        msg = (
            f"BLUEPRINTS_LLM={settings.llm}: cannot set up the chat model ({exc}); "
            "set BLUEPRINTS_LLM_API_KEY (or BLUEPRINTS_LLM_BASE_URL for a local server), "
            "or BLUEPRINTS_LLM=none for the extractive answerer"
        )
        raise LLMError(msg) from exc
    assert isinstance(model, BaseChatModel)  # a model name was given: not a configurable one
    return model


def _provider_options(settings: Settings) -> dict[str, Any]:
    """What each provider's chat model class takes for the same settings."""
    api_key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    if api_key is None and settings.llm_base_url:
        api_key = PLACEHOLDER_API_KEY
    timeout, max_tokens = settings.llm_timeout_s, settings.llm_max_tokens
    if settings.llm_provider == "openai":
        # ChatOpenAI sends `max_tokens` as `max_completion_tokens`, which llama-cpp-python's
        # server and Ollama's OpenAI endpoint ignore: a compatible server gets the classic name.
        compatible = settings.llm_base_url is not None
        return {
            "base_url": settings.llm_base_url,
            "api_key": api_key,  # None: read OPENAI_API_KEY
            "timeout": timeout,
            "max_retries": 1,
            "max_tokens": None if compatible else max_tokens,
            "extra_body": {"max_tokens": max_tokens} if compatible else None,
            "temperature": 0,
            # Compatible servers speak Chat Completions, not the newer Responses API.
            "use_responses_api": False,
        }
    if settings.llm_provider == "ollama":
        # A key, if any, is for a proxy in front of Ollama; Ollama itself has no auth.
        headers = {"Authorization": f"Bearer {api_key}"} if settings.llm_api_key else {}
        return {
            "base_url": settings.llm_base_url,
            "temperature": 0,
            "num_predict": max_tokens,
            "client_kwargs": {"timeout": timeout, "headers": headers},
        }
    return {
        "base_url": settings.llm_base_url,
        "api_key": api_key,
        "timeout": timeout,
        "max_retries": 1,
        "max_tokens": max_tokens,
        "temperature": 0,
    }


class LLMAnswerer:
    """Answers from numbered passages with a chat model, citing them as `[n]`."""

    def __init__(self, model: BaseChatModel, settings: Settings) -> None:
        """Wrap `model`, the one `build_chat_model(settings)` built; named after `settings.llm`."""
        self.name = f"llm:{settings.llm}"
        self._model = model
        self._system = load_prompt("answer.txt")

    def _messages(self, context: AnswerContext) -> list[BaseMessage]:
        return [SystemMessage(self._system), HumanMessage(_render_context(context))]

    def answer(self, context: AnswerContext) -> Draft:
        """The whole answer at once.

        Raises:
            LLMError: The model failed or timed out.
        """
        message = _invoke(self._model, self._messages(context), self.name)
        notes = []
        metadata = message.response_metadata
        reason = next(
            (metadata[k] for k in ("finish_reason", "done_reason", "stop_reason") if k in metadata),
            None,
        )
        if reason in _TRUNCATED:
            notes.append(f"{self.name}: answer cut off at the token limit")
        return Draft(text=message.text, answerer=self.name, notes=notes)

    def stream(self, context: AnswerContext) -> Iterator[str]:
        """The answer's text as the model produces it.

        Raises:
            LLMError: The model failed or timed out, before or during the stream.
        """
        try:
            for chunk in self._model.stream(self._messages(context)):
                if chunk.text:
                    yield chunk.text
        except Exception as exc:  # see _invoke
            raise _llm_error(self.name, exc) from exc


def condense_question(model: BaseChatModel, history: Sequence[Turn], question: str) -> str:
    """Rewrite a follow-up as a standalone question, using the conversation so far.

    Returns:
        The standalone question; `question` itself when there is no history or the model
        returns nothing.

    Raises:
        LLMError: The model failed or timed out.
    """
    if not history:
        return question
    transcript = "\n".join(
        f"{turn.role}: {_clip(turn.content, CONDENSE_TURN_CHARS)}"
        for turn in history[-CONDENSE_TURNS:]
    )
    messages = [
        SystemMessage(load_prompt("condense.txt")),
        HumanMessage(
            f"<conversation>\n{transcript}\n</conversation>\n\n"
            f"<latest_message>\n{question}\n</latest_message>"
        ),
    ]
    rewrite = _invoke(model, messages, "condensing the question").text.strip()
    # Small models add a label or quotes despite the prompt.
    rewrite = rewrite.removeprefix("Standalone question:").strip().strip("\"'“”").strip()
    return rewrite.splitlines()[0] if rewrite else question


@functools.cache
def load_prompt(name: str) -> str:
    """A prompt file from `assistant/prompts/`."""
    return resources.files("assistant").joinpath("prompts", name).read_text(encoding="utf-8")


def _render_context(context: AnswerContext) -> str:
    blocks = []
    for n, passage in enumerate(context.passages, start=1):
        chunk = passage.chunk
        attributes = {"role": chunk.role, "section": chunk.section, "subsection": chunk.subsection}
        rendered = " ".join(f'{k}="{_attribute(v)}"' for k, v in attributes.items() if v)
        # A passage must not be able to close its own tag and speak outside it.
        text = (passage.quote or chunk.text).replace("</passage", "</ passage")
        blocks.append(f'<passage n="{n}" {rendered}>\n{text}\n</passage>')
    notes = []
    plan = context.plan
    if plan.roles:
        notes.append("Roles asked about: " + ", ".join(role.role for role in plan.roles) + ".")
    if plan.unknown_roles:
        notes.append("Roles not in the knowledge base: " + ", ".join(plan.unknown_roles) + ".")
    if plan.kind == "compare":
        notes.append("The question compares roles: answer role by role.")
    passages = "\n\n".join(blocks) if blocks else "(no passages were found)"
    parts = [f"Passages:\n\n{passages}", *notes, f"<question>\n{context.question}\n</question>"]
    return "\n\n".join(parts)


def _attribute(value: str) -> str:
    return value.replace('"', "'").replace("\n", " ")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _invoke(model: BaseChatModel, messages: list[BaseMessage], what: str) -> AIMessage:
    try:
        return model.invoke(messages)
    # Every failure of the provider call (SDK errors, transport errors, a malformed reply)
    # means the same to the caller: answer without the model. Our own code is outside the try.
    except Exception as exc:
        raise _llm_error(what, exc) from exc


def _llm_error(what: str, exc: Exception) -> LLMError:
    kind: FailureKind
    if isinstance(exc, ModelTimeoutError | httpx.TimeoutException | TimeoutError):
        reason, kind = "timed out", "timeout"
    elif isinstance(exc, ModelConnectionError | httpx.TransportError | ConnectionError):
        reason, kind = "cannot connect", "connection"
    elif isinstance(status := getattr(exc, "status_code", None), int):
        reason, kind = f"HTTP {status}", "http"
    else:
        reason, kind = f"{type(exc).__name__}: {_clip(str(exc).strip(), 160)}", "error"
    logger.warning("%s failed: %s (%r)", what, reason, exc)
    return LLMError(f"{what} failed: {reason}", kind)
