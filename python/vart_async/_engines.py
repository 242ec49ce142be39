"""Finding, choosing and lazily loading engine modules, as the registry (`_registry`) describes them.

Nothing here runs at import time, and nothing here names an engine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from vart_async import _registry
from vart_async._errors import EngineError, EngineUnavailableError, ModelNotFoundError


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can be used here, and what runs behind it."""

    name: str
    available: bool
    emulated: bool
    detail: str


def load(name: str) -> ModuleType:
    """Imports the engine module `name` (raises EngineUnavailableError saying how to get it)."""
    record = _registry.get(name)
    return (record.loader or _registry.import_engine)(record)


def status(name: str) -> EngineStatus:
    try:
        module = load(name)
    except EngineUnavailableError as e:
        return EngineStatus(name, False, False, str(e))
    emulated = bool(getattr(module, "EMULATED", False))
    detail = getattr(module, "DESCRIPTION", "")
    if not detail:
        record = _registry.get(name)
        detail = (record.emulated_detail or f"{record.title} emulator (no NPU)") if emulated else name
    return EngineStatus(name, True, emulated, detail)


def choose(model: str | os.PathLike[str], engine: str) -> str:
    """The engine for `model`: as asked, or by the model's kind when engine='auto'."""
    if engine != "auto":
        return _registry.get(engine).name
    path = Path(model)
    suffix = path.suffix.lower()
    for record in _registry.records():
        if suffix in record.suffixes:
            return record.name
    if path.is_dir():
        for record in _registry.records():
            if record.directories:
                return record.name
    uses = [f"engine={r.name!r} ({r.describe_models()})" for r in _registry.records()]
    choices = " or ".join([", ".join(uses[:-1]), uses[-1]] if len(uses) > 1 else uses)
    raise ValueError(f"cannot tell which engine runs {str(model)!r}: use {choices}")


def create(
    model: str | os.PathLike[str], engine: str, options: dict[str, Any], jobs: int | None = 2
) -> tuple[str, Any]:
    """Loads `model` on an engine; returns (engine name, native engine capsule). jobs=None: the
    session will take as many slots as the engine finds optimal."""
    path = os.fspath(model)
    if not os.path.exists(path):
        raise ModelNotFoundError(f"model path does not exist: {path}")
    name = choose(path, engine)
    module = load(name)
    native_options = {str(k): _option_text(v) for k, v in options.items()}
    for key, value in _registry.get(name).defaults(jobs).items():
        native_options.setdefault(key, _option_text(value))
    try:
        return name, module.create(path, native_options)
    except ValueError:
        raise
    except RuntimeError as e:
        raise EngineError(f"{name} engine cannot open {path}: {e}") from None


def _option_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
