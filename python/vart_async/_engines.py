"""Finding, choosing and lazily loading engine modules. Nothing here runs at import time."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from vart_async._errors import EngineError, EngineUnavailableError, ModelNotFoundError

ENGINES = ("vart", "openvino")

_HOW_TO: dict[str, str] = {
    "vart": (
        "this build of vart_async has no VART engine (it was built with VART_ASYNC_VART=OFF); "
        "rebuild with the default settings, or inside the Vitis AI SDK environment for the board"
    ),
    "openvino": "install the OpenVINO runtime: pip install 'vart-async[openvino]'",
}


@dataclass(frozen=True)
class EngineStatus:
    """Whether an engine can be used here, and what runs behind it."""

    name: str
    available: bool
    emulated: bool
    detail: str


def _import_vart() -> ModuleType:
    try:
        return importlib.import_module("vart_async._vart")
    except ImportError as e:
        if "No module named" in str(e):
            raise EngineUnavailableError(f"VART engine unavailable: {_HOW_TO['vart']}") from None
        # Built against the real SDK, but libvart-ml is not on this machine.
        raise EngineUnavailableError(
            f"VART engine unavailable: libvart-ml could not be loaded ({e}). On the board, set "
            "LD_LIBRARY_PATH to include the vart_ml/lib folder of the Vitis AI wheels (see docs/board.md)."
        ) from None


def _import_openvino() -> ModuleType:
    try:
        from vart_async import _openvino_loader
    except ImportError:
        raise EngineUnavailableError(f"OpenVINO engine unavailable: {_HOW_TO['openvino']}") from None
    return _openvino_loader.load()


_LOADERS = {"vart": _import_vart, "openvino": _import_openvino}


def load(name: str) -> ModuleType:
    """Imports the engine module `name` (raises EngineUnavailableError saying how to get it)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown engine {name!r}: choose one of auto, {', '.join(ENGINES)}")
    return _LOADERS[name]()


def status(name: str) -> EngineStatus:
    try:
        module = load(name)
    except EngineUnavailableError as e:
        return EngineStatus(name, False, False, str(e))
    emulated = bool(getattr(module, "EMULATED", False))
    detail = getattr(module, "DESCRIPTION", "")
    if not detail:
        detail = "VART-ML emulator (no NPU)" if emulated else name
    return EngineStatus(name, True, emulated, detail)


def choose(model: str | os.PathLike[str], engine: str) -> str:
    """The engine for `model`: as asked, or by the model's kind when engine='auto'."""
    if engine != "auto":
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}: choose one of auto, {', '.join(ENGINES)}")
        return engine
    path = Path(model)
    suffix = path.suffix.lower()
    if suffix in (".onnx", ".xml"):
        return "openvino"
    if suffix in (".json", ".rai") or path.is_dir():
        return "vart"
    raise ValueError(
        f"cannot tell which engine runs {str(model)!r}: use engine='vart' (.rai, model cache "
        "directory, emulator .json descriptor) or engine='openvino' (.onnx, .xml)"
    )


def create(
    model: str | os.PathLike[str], engine: str, options: dict[str, Any], jobs: int = 2
) -> tuple[str, Any]:
    """Loads `model` on an engine; returns (engine name, native engine capsule)."""
    path = os.fspath(model)
    if not os.path.exists(path):
        raise ModelNotFoundError(f"model path does not exist: {path}")
    name = choose(path, engine)
    module = load(name)
    native_options = {str(k): _option_text(v) for k, v in options.items()}
    if name == "openvino":
        # As benchmark_app forwards -nireq: the hint sizes streams for the requests we keep in flight.
        native_options.setdefault("num_requests", str(jobs))
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
