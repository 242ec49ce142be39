"""Shared setup of the benchmark suite: models, peer helpers, and the opt-in long comparisons.

    pytest benchmarks --benchmark-only                 # the regression suite (~35 s on 2 cores)
    pytest benchmarks --benchmark-only --run-slow      # + the side-by-side peer comparisons (~5 min)

The long comparisons (test_compare_peers.py, marked `slow`) take --compare-seconds per side
(default 6, the performance issue's duration) and --compare-rounds interleaved rounds (default 3);
on a shared machine, --quiet-wait S waits up to S seconds for a quiet moment before each round.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

import vart_async

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("vart_async benchmarks")
    group.addoption("--run-slow", action="store_true", default=False,
                    help="also run the long side-by-side comparisons with benchmark_app, AsyncInferQueue "
                         "and the raw C++ loop (marked slow)")
    group.addoption("--compare-seconds", type=float, default=6.0,
                    help="seconds per side per round (default 6)")
    group.addoption("--compare-rounds", type=int, default=3,
                    help="interleaved rounds per comparison (default 3)")
    group.addoption("--quiet-wait", type=float, default=0.0,
                    help="before each comparison round, wait up to this many seconds for other processes "
                         "to use < 10%% of the CPUs (default 0: do not wait)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="long peer comparison: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


def load(name: str) -> ModuleType:
    """Imports benchmarks/<name>.py by path (the suite is not a package; see --import-mode)."""
    return _import_path(f"vart_async_benchmarks.{name}", HERE / f"{name}.py")


def _import_path(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def compare(request: pytest.FixtureRequest) -> tuple[float, int, float]:
    """(seconds per side, rounds, quiet wait) of the long comparisons."""
    options = request.config.option
    return float(options.compare_seconds), int(options.compare_rounds), float(options.quiet_wait)


@pytest.fixture(scope="session")
def openvino_engine() -> None:
    """Skips unless this build has the OpenVINO engine and the openvino runtime imports."""
    pytest.importorskip("openvino", reason="needs openvino: pip install 'vart-async[openvino]'")
    status = vart_async.available_engines()["openvino"]
    if not status.available:
        pytest.skip(f"no OpenVINO engine: {status.detail}")


@pytest.fixture(scope="session")
def peers(openvino_engine: None) -> ModuleType:
    """benchmarks/peers.py: benchmark_app, AsyncInferQueue and vart_async runs on one configuration."""
    return load("peers")


@pytest.fixture(scope="session")
def timing() -> ModuleType:
    """benchmarks/peers.py for its round helpers only (alternate, median_ratio, OthersCpu,
    wait_quiet): no OpenVINO needed."""
    return load("peers")


@pytest.fixture(scope="session")
def raw_loop(openvino_engine: None) -> ModuleType:
    """benchmarks/ov_raw_loop.py, with the C++ program built (skips without a C++ compiler)."""
    module = load("ov_raw_loop")
    try:
        module.build()
    except (OSError, RuntimeError) as e:  # no g++, or the build failed
        pytest.skip(f"cannot build ov_raw_loop: {e}")
    return module


@pytest.fixture(scope="session")
def tiny_model(openvino_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Relu+Sigmoid model on float32 [1,3,32,32] (per-job overhead dominates)."""
    pytest.importorskip("onnx", reason="building the tiny model needs onnx (the test extra)")
    tool = load_tool()
    return tool.write(tool.tiny(), tmp_path_factory.mktemp("models") / "tiny.onnx")


@pytest.fixture(scope="session")
def squeezenet_model(openvino_engine: None) -> Path:
    """light_squeezenet from the onnx wheel's backend test data."""
    onnx = pytest.importorskip("onnx", reason="light_squeezenet comes with the onnx package")
    path = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light" / "light_squeezenet.onnx"
    if not path.exists():
        pytest.skip(f"this onnx wheel has no {path.name}")
    return path


def load_tool() -> ModuleType:
    """tools/make_default_model.py, which builds the tiny model."""
    return _import_path("make_default_model", ROOT / "tools" / "make_default_model.py")


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    """A folder for benchmark_app reports (kept with pytest's temporary folders)."""
    path = tmp_path / "benchmark_app"
    path.mkdir()
    return path


@pytest.fixture(autouse=True)
def _record_load(request: pytest.FixtureRequest) -> None:
    """Every benchmark's extra_info says how loaded the machine was when it started."""
    if "benchmark" in request.fixturenames:
        bench = request.getfixturevalue("benchmark")
        bench.extra_info["loadavg_1m_at_start"] = round(os.getloadavg()[0], 2)
        bench.extra_info["cpus"] = os.cpu_count()
