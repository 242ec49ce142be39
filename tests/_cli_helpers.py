"""Plain helpers shared by tests/test_cli.py and tests/test_cli_runs.py (vart-async-bench).

Not a test module; importable because pyproject's pytest settings put tests/ on the path.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vart_async
from vart_async import cli

DEMO = Path(str(resources.files("vart_async") / "models" / "resnet50_int8.emu.json"))
DEFAULT_ONNX = Path(str(resources.files("vart_async") / "models" / "default_cnn.onnx"))
BPR = 8 + 4 * 4  # the tiny descriptor's row: input a uint8[8] + input b float32[4]


def run(capsys: pytest.CaptureFixture[str], *argv: Any) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def ifm_file(path: str | Path, nbytes: int, seed: int = 0) -> str:
    data = np.random.default_rng(seed).integers(0, 256, nbytes, dtype=np.uint8).tobytes()
    Path(path).write_bytes(data)
    return str(path)


def direct_outputs(model: str | Path, rows: Sequence[Any] | np.ndarray) -> list[bytes]:
    """Outputs of one job on `rows` (IFM rows, zero-filled to the batch) through the Python API."""
    with vart_async.open(model, jobs=1) as s:
        a, b = s.slots[0].inputs
        full = np.zeros((s.batch_size, BPR), np.uint8)
        full[: len(rows)] = rows
        a.view(np.uint8)[...] = full[:, :8].reshape(a.view(np.uint8).shape)
        b.view(np.uint8)[...] = full[:, 8:].reshape(b.view(np.uint8).shape)
        s.run(iterations=1)
        return [o.tobytes() for o in s.slots[0].outputs]
