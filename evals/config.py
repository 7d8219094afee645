"""The run configuration file (`evals/config.toml`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from evals.models import EvalConfig, EvalError

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "config.toml"


def load_config(path: Path = DEFAULT_CONFIG_PATH) -> EvalConfig:
    """Read the run configuration.

    Raises:
        EvalError: The file is missing or not a valid configuration.
    """
    try:
        return EvalConfig.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as exc:
        msg = f"{path}: not a valid eval configuration ({exc}); see evals/config.toml"
        raise EvalError(msg) from exc
