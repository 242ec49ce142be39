"""Loads the OpenVINO engine module, or says why it cannot and how to fix it.

Order matters: `openvino` is imported first so that the wheel's libopenvino.so.NNNN is already in
the process when `vart_async._openvino` (linked against it) is imported, and the installed release is
compared with the one the module was built against *before* that import, because the library's
SONAME changes with every patch release and a mismatch would otherwise surface as an obscure
"cannot open shared object file".
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vart_async import _registry
from vart_async._errors import EngineUnavailableError


def _release(version: str) -> str:
    """'2026.4.1-22982-e213a147257-releases/2026/4' -> '2026.4.1'."""
    return version.strip().split("-", 1)[0]


def _installed_release(openvino: ModuleType) -> str:
    version = getattr(openvino, "__version__", None)
    if not version:
        version = openvino.get_version()
    return _release(str(version))


def _built_release() -> str | None:
    """The release this build was pinned to, or None when it was built without the engine."""
    try:
        build = importlib.import_module("vart_async._openvino_build")
    except ImportError:
        return None
    return str(build.OPENVINO_VERSION)


def load() -> ModuleType:
    """Returns `vart_async._openvino`, or raises EngineUnavailableError saying how to get it."""
    try:
        openvino = importlib.import_module("openvino")
    except ImportError:
        raise _registry.unavailable(_registry.get("openvino")) from None

    built = _built_release()
    if built is None:
        raise EngineUnavailableError(
            "OpenVINO engine unavailable: this build of vart_async has no OpenVINO engine (it was built "
            "with VART_ASYNC_OPENVINO=OFF, or without the openvino wheel); reinstall it with "
            "pip install 'vart-async[openvino]'"
        )
    found = _installed_release(openvino)
    if found != built:
        raise EngineUnavailableError(
            f"OpenVINO engine unavailable: vart_async was built against OpenVINO {built}; found {found}: "
            f"pip install openvino=={built}"
        )
    try:
        return importlib.import_module("vart_async._openvino")
    except ImportError as e:
        raise EngineUnavailableError(
            f"OpenVINO engine unavailable: the engine module did not load ({e}); reinstall with "
            f"pip install openvino=={built} 'vart-async[openvino]'"
        ) from None
