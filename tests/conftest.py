from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TINY: dict[str, Any] = {
    "name": "tiny",
    "batch_size": 2,
    "compute_units": 2,
    "execution_slots": 2,
    "service_time_us": 0,
    "inputs": [
        {"name": "a", "data_type": "UINT8", "shape": [1, 8], "layout": "NC"},
        {"name": "b", "data_type": "FLOAT32", "shape": [1, 4], "layout": "NC"},
    ],
    "outputs": [
        {"name": "y", "data_type": "INT8", "shape": [1, 16], "layout": "NC"},
        {"name": "z", "data_type": "FLOAT32", "shape": [1, 3], "layout": "NC"},
    ],
}


@pytest.fixture
def descriptor(tmp_path: Path) -> Callable[..., Path]:
    """Writes an emulator descriptor: TINY updated with the given keys."""

    def make(name: str = "model.json", **changes: Any) -> Path:
        body = json.loads(json.dumps(TINY))
        body.update(changes)
        path = tmp_path / name
        path.write_text(json.dumps(body))
        return path

    return make


@pytest.fixture
def tiny(descriptor: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The `descriptor` two-input, two-output, batch-2 model (TINY); the test runs in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return str(descriptor())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `hw` need a real NPU: left out unless asked for with `-m hw` (docs/board.md)."""
    if "hw" in (config.getoption("markexpr") or ""):
        return
    board = [item for item in items if item.get_closest_marker("hw")]
    if board:
        config.hook.pytest_deselected(items=board)
        items[:] = [item for item in items if not item.get_closest_marker("hw")]
