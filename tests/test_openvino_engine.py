"""The OpenVINO engine: real models on the CPU, checked against onnxruntime, zero-copy slots, options
and the errors a user meets when OpenVINO is missing or the wrong release."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

# Checked without importing it: collecting this file must not load OpenVINO into the test process
# (tests elsewhere check that `import vart_async` alone does not).
if importlib.util.find_spec("openvino") is None:
    pytest.skip("OpenVINO is not installed: pip install 'vart-async[openvino]'", allow_module_level=True)
ort = pytest.importorskip("onnxruntime", reason="the reference outputs need onnxruntime (the test extra)")
onnx = pytest.importorskip("onnx", reason="building test models needs onnx (the test extra)")

from onnx import TensorProto, helper  # noqa: E402

import vart_async  # noqa: E402
from vart_async import EngineError, EngineUnavailableError, ModelNotFoundError, _openvino_loader  # noqa: E402

pytestmark = pytest.mark.openvino

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = Path(vart_async.__file__).parent / "models" / "default_cnn.onnx"
LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"


def _load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_default_model", REPO / "tools" / "make_default_model.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


models = _load_tool()


def _save(model: Any, path: Path) -> Path:
    path.write_bytes(model.SerializeToString())
    return path


def _graph_model(
    nodes: list[Any], inputs: list[Any], outputs: list[Any], inits: list[Any] | None = None
) -> Any:
    graph = helper.make_graph(nodes, "test", inputs, outputs, initializer=inits or [])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    return model


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ov_models")
    _save(models.tiny(), d / "tiny.onnx")
    # Two inputs of different types, three outputs (float, int, bool).
    _save(
        _graph_model(
            [
                helper.make_node("Add", ["a", "half"], ["a_plus"]),
                helper.make_node("Neg", ["b"], ["b_neg"]),
                helper.make_node("Greater", ["a", "half"], ["a_big"]),
            ],
            [
                helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 4]),
                helper.make_tensor_value_info("b", TensorProto.INT32, [3]),
            ],
            [
                helper.make_tensor_value_info("a_plus", TensorProto.FLOAT, [2, 4]),
                helper.make_tensor_value_info("b_neg", TensorProto.INT32, [3]),
                helper.make_tensor_value_info("a_big", TensorProto.BOOL, [2, 4]),
            ],
            [helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])],
        ),
        d / "multi_io.onnx",
    )
    _save(models.tiny(("N", 3, 8, 8)), d / "dynamic.onnx")
    _save(
        _graph_model(
            [helper.make_node("Identity", ["x"], ["y"])],
            [helper.make_tensor_value_info("x", TensorProto.DOUBLE, [1, 4])],
            [helper.make_tensor_value_info("y", TensorProto.DOUBLE, [1, 4])],
        ),
        d / "float64.onnx",
    )
    return d


def _reference(path: Path) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    options = ort.SessionOptions()
    options.log_severity_level = 3  # the light models carry unused initializers: not our concern
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    return lambda xs: session.run(None, dict(zip(names, xs, strict=True)))


def _random(rng: np.random.Generator, a: np.ndarray) -> np.ndarray:
    if a.dtype.kind == "f":
        return rng.random(a.shape).astype(a.dtype)
    return rng.integers(-100, 100, a.shape).astype(a.dtype)


def _fill_slots(s: vart_async.Session, seed: int) -> list[list[np.ndarray]]:
    """Gives every slot its own random inputs, written into the slot arrays in place."""
    rng = np.random.default_rng(seed)
    feeds = []
    for slot in s.slots:
        xs = [_random(rng, a) for a in slot.inputs]
        for a, x in zip(slot.inputs, xs, strict=True):
            a[...] = x
        feeds.append(xs)
    return feeds


def _model_path(name: str, model_dir: Path) -> Path:
    if name == "default_cnn":
        return DEFAULT_MODEL
    if name.startswith("light_"):
        return _light_logits(name, model_dir)
    return model_dir / f"{name}.onnx"


def _light_logits(name: str, model_dir: Path) -> Path:
    """The onnx wheel's light model without its final Softmax.

    Every weight of the light models is the same constant, so all their logits are equal (about
    1e10) up to one rounding step; the Softmax turns that last-bit noise into whole-output
    differences between any two correct runtimes. The logits themselves are compared instead.
    """
    source = LIGHT / f"{name}.onnx"
    if not source.exists():
        pytest.skip(f"this onnx wheel has no {source.name}")
    model = onnx.load(str(source))
    last = model.graph.node[-1]
    assert last.op_type == "Softmax"
    model.graph.node.remove(last)
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info(last.input[0], TensorProto.FLOAT, None))
    return _save(model, model_dir / f"{name}_logits.onnx")


# -- outputs ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["default_cnn", "tiny", "multi_io", "light_squeezenet", "light_resnet50"])
def test_outputs_match_onnxruntime(name: str, model_dir: Path) -> None:
    path = _model_path(name, model_dir)
    reference = _reference(path)
    with vart_async.open(path, jobs=2, precision="f32") as s:
        feeds = _fill_slots(s, seed=7)
        # The timeout only guards against hangs: a ResNet-50 job takes ~30 s under qemu-aarch64.
        s.run(iterations=s.jobs, wait_timeout=600)  # one job per slot
        for slot, xs in zip(s.slots, feeds, strict=True):
            expected = reference(xs)
            assert len(slot.outputs) == len(expected)
            for got, want in zip(slot.outputs, expected, strict=True):
                assert got.shape == want.shape
                assert got.dtype == want.dtype
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_async_outputs_equal_sync_outputs() -> None:
    # More jobs than streams: OpenVINO queues the extra requests; each slot still gets its own output.
    with vart_async.open(DEFAULT_MODEL, jobs=4, hint="none", streams=1, precision="f32") as s:
        _fill_slots(s, seed=3)
        s.run(iterations=s.jobs)
        async_out = [slot.outputs[0].copy() for slot in s.slots]
        assert not np.array_equal(async_out[0], async_out[1])  # different inputs, different outputs

        for slot in s.slots:
            slot.outputs[0][...] = np.nan
        s.run(iterations=s.jobs, mode="sync")
        for slot, want in zip(s.slots, async_out, strict=True):
            np.testing.assert_array_equal(slot.outputs[0], want)

        for k, slot in enumerate(s.slots):  # the low-level submit/wait path
            slot.outputs[0][...] = np.nan
            s.submit(k).wait(timeout=10)
            np.testing.assert_array_equal(slot.outputs[0], async_out[k])

        r = s.run(iterations=40)  # a steady state well past the prime
        assert r.completed == 40


def test_ir_model(tmp_path: Path) -> None:
    xml = tmp_path / "cnn.xml"
    import openvino

    openvino.save_model(openvino.Core().read_model(DEFAULT_MODEL), xml, compress_to_fp16=False)
    reference = _reference(DEFAULT_MODEL)
    with vart_async.open(xml, jobs=1, precision="f32") as s:
        assert s.engine == "openvino"
        (xs,) = _fill_slots(s, seed=11)
        s.run(iterations=1)
        np.testing.assert_allclose(s.slots[0].outputs[0], reference(xs)[0], rtol=1e-4, atol=1e-5)


# -- zero-copy --------------------------------------------------------------------------------------
def test_slot_arrays_are_the_engine_buffers() -> None:
    reference = _reference(DEFAULT_MODEL)
    rng = np.random.default_rng(5)
    s = vart_async.open(DEFAULT_MODEL, jobs=2, precision="f32")
    x, y = s.slots[0].inputs[0], s.slots[0].outputs[0]
    assert np.shares_memory(x, s.slots[0].inputs[0])
    assert np.shares_memory(y, s.slots[0].outputs[0])
    assert not np.shares_memory(x, s.slots[1].inputs[0])
    assert x.ctypes.data % 64 == 0
    assert y.ctypes.data % 64 == 0

    for _ in range(2):  # the engine reads the array we wrote and writes the array we hold
        x1 = rng.random(x.shape, dtype=np.float32)
        x[...] = x1
        y[...] = np.nan
        s.run(iterations=1)
        np.testing.assert_allclose(y, reference([x1])[0], rtol=1e-4, atol=1e-5)

    want = y.copy()
    s.close()
    np.testing.assert_array_equal(y, want)  # our arrays outlive the session


# -- several inputs and outputs, shapes -------------------------------------------------------------
def test_specs_of_several_inputs_and_outputs(model_dir: Path) -> None:
    with vart_async.open(model_dir / "multi_io.onnx", jobs=1) as s:
        assert [(t.name, t.dtype, t.shape, t.nbytes) for t in s.inputs] == [
            ("a", "float32", (2, 4), 32),
            ("b", "int32", (3,), 12),
        ]
        assert [(t.name, t.dtype, t.shape) for t in s.outputs] == [
            ("a_plus", "float32", (2, 4)),
            ("b_neg", "int32", (3,)),
            ("a_big", "bool", (2, 4)),
        ]
        assert s.batch_size == 2  # the leading dimension of the first input


def test_dynamic_shape_needs_the_shape_option(model_dir: Path) -> None:
    path = model_dir / "dynamic.onnx"
    # Both the Python form and the CLI's flag form.
    both = r"shape='input:\[1,3,8,8\]' \(vart-async-bench: --shape 'input:\[1,3,8,8\]'\)"
    with pytest.raises(EngineError, match=r"input 'input' has a dynamic shape .*" + both):
        vart_async.open(path)
    reference = _reference(path)
    for shape in ("input:[2,3,8,8]", "input[2,3,8,8]", "[2,3,8,8]"):
        with vart_async.open(path, jobs=1, shape=shape) as s:
            assert s.inputs[0].shape == (2, 3, 8, 8)
            assert s.outputs[0].shape == (2, 3, 8, 8)
            assert s.batch_size == 2
            (xs,) = _fill_slots(s, seed=1)
            s.run(iterations=1)
            np.testing.assert_allclose(s.slots[0].outputs[0], reference(xs)[0], rtol=1e-5, atol=1e-6)


# -- options and errors -----------------------------------------------------------------------------
def test_info_and_compiled_model_properties() -> None:
    with vart_async.open(
        DEFAULT_MODEL, jobs=1, hint="none", streams=1, threads=1, precision="f32", pin="no"
    ) as s:
        assert s.info["engine"] == "openvino"
        assert not s.emulated
        assert s.runtime == f"OpenVINO {_native().OPENVINO_VERSION} (CPU)"
        assert s.model_name == "default_cnn"
        props = s.info["properties"]
        assert props["NUM_STREAMS"] == "1"
        assert props["INFERENCE_NUM_THREADS"] == "1"
        assert props["INFERENCE_PRECISION_HINT"] == "f32"
        assert props["ENABLE_CPU_PINNING"] == "NO"
        assert props["OPTIMAL_NUMBER_OF_INFER_REQUESTS"] == "1"
        assert "PERFORMANCE_HINT" in props
    with vart_async.open(DEFAULT_MODEL, jobs=1, hint="latency") as s:
        assert s.info["properties"]["PERFORMANCE_HINT"] == "LATENCY"
        assert s.info["properties"]["NUM_STREAMS"] == "1"
    with vart_async.open(DEFAULT_MODEL, jobs=1, hint="none", NUM_STREAMS="1") as s:  # a raw property
        assert s.info["properties"]["NUM_STREAMS"] == "1"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"streams": "two"}, "streams must be an integer"),
        ({"streams": 0}, "streams must be an integer >= 1"),
        ({"threads": -1}, "threads must be an integer >= 1"),
        # past the native int: an error, not truncated (4294967297 used to become 1)
        ({"streams": 4294967297}, "streams must be an integer >= 1 and <= 2147483647"),
        ({"threads": 2**31}, "threads must be an integer >= 1 and <= 2147483647"),
        ({"num_requests": 2**32}, "num_requests must be an integer >= 1 and <= 4294967295"),
        ({"num_requests": "many"}, "num_requests must be an integer"),
        ({"precision": "f64"}, "precision must be f32, bf16 or f16"),
        ({"hint": "fast"}, "hint must be"),
        ({"pin": "maybe"}, "pin must be yes or no"),
        ({"bogus": "1"}, "unknown option 'bogus'"),
        ({"PERFORMANCE_HINT": "fast"}, "hint must be"),
        ({"shape": "nosuch:[1,3,32,32]"}, "no input 'nosuch'"),
        ({"shape": "[1,3,x,32]"}, "'x' is not a dimension"),
        ({"shape": "input:[1,3,32]"}, "cannot take these shapes"),
    ],
)
def test_bad_options_are_value_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        vart_async.open(DEFAULT_MODEL, **options)


def test_model_errors(tmp_path: Path, model_dir: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        vart_async.open(tmp_path / "nope.onnx")
    (tmp_path / "model.pb").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.onnx.*\.xml"):
        vart_async.open(tmp_path / "model.pb", engine="openvino")
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    with pytest.raises(EngineError, match=r"broken\.onnx"):
        vart_async.open(tmp_path / "broken.onnx")
    with pytest.raises(EngineError, match=r"tensor 'x' has element type f64"):
        vart_async.open(model_dir / "float64.onnx")
    with pytest.raises(EngineError, match="NOT_A_PROPERTY"):
        vart_async.open(DEFAULT_MODEL, NOT_A_PROPERTY="1")


def test_loading_a_model_releases_the_gil(model_dir: Path) -> None:
    path = _light_logits("light_resnet50", model_dir)  # compiling takes a while
    native = _native()
    ticks, stop = [0], threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks[0] += 1
            time.sleep(0.0005)

    ticker = threading.Thread(target=tick)
    ticker.start()
    try:
        time.sleep(0.01)
        before, t0 = ticks[0], time.perf_counter()
        capsule = native.create(str(path), {"precision": "f32"})
        during, elapsed = ticks[0] - before, time.perf_counter() - t0
    finally:
        stop.set()
        ticker.join()
    del capsule
    assert elapsed > 0.02, "the model compiled too fast to tell"
    assert during >= 5, f"only {during} ticks in {elapsed:.3f} s: create() held the GIL"


# -- availability, the loader and the version pin ---------------------------------------------------
def _native() -> ModuleType:
    return _openvino_loader.load()


def test_available_and_pinned_to_the_installed_release() -> None:
    status = vart_async.available_engines()["openvino"]
    assert status.available, status.detail
    assert not status.emulated
    native = _native()
    assert native.EMULATED is False
    import openvino

    assert openvino.__version__.split("-")[0] == native.OPENVINO_VERSION
    assert status.detail == native.DESCRIPTION == f"OpenVINO {native.OPENVINO_VERSION} (CPU)"


def test_the_pin_is_the_same_everywhere() -> None:
    tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python >= 3.11")
    cmake = (REPO / "csrc" / "engines" / "openvino" / "CMakeLists.txt").read_text()
    pin = re.search(r'set\(VART_ASYNC_OPENVINO_VERSION "([^"]+)"', cmake)
    assert pin is not None
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    wanted = f"openvino=={pin.group(1)}"
    assert wanted in project["build-system"]["requires"]
    assert project["project"]["optional-dependencies"]["openvino"] == [wanted]
    assert wanted in project["project"]["optional-dependencies"]["test"]
    assert pin.group(1) == _native().OPENVINO_VERSION


def test_shipped_default_model_is_what_the_script_makes() -> None:
    """Same graph and weight shapes (weight values follow numpy's seeded stream, which numpy does not
    promise to keep across releases, so they are not compared)."""
    shipped, made = onnx.load(str(DEFAULT_MODEL)), models.default_cnn()
    assert [(n.op_type, list(n.input), list(n.output)) for n in shipped.graph.node] == [
        (n.op_type, list(n.input), list(n.output)) for n in made.graph.node
    ]
    assert [(t.name, list(t.dims)) for t in shipped.graph.initializer] == [
        (t.name, list(t.dims)) for t in made.graph.initializer
    ]
    assert shipped.graph.input == made.graph.input
    assert shipped.graph.output == made.graph.output
    assert DEFAULT_MODEL.stat().st_size < 1_000_000


def test_missing_openvino_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # makes `import openvino` fail
    with pytest.raises(EngineUnavailableError, match=re.escape("pip install 'vart-async[openvino]'")):
        _openvino_loader.load()
    status = vart_async.available_engines()["openvino"]
    assert not status.available
    assert "pip install 'vart-async[openvino]'" in status.detail
    with pytest.raises(EngineUnavailableError):
        vart_async.open(DEFAULT_MODEL)


def test_wrong_openvino_release_says_which_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import openvino

    built = _native().OPENVINO_VERSION
    monkeypatch.setattr(openvino, "__version__", "2026.3.0-20000-0123456789a-releases/2026/3")
    with pytest.raises(
        EngineUnavailableError,
        match=re.escape(f"built against OpenVINO {built}; found 2026.3.0: pip install openvino=={built}"),
    ):
        _openvino_loader.load()


def test_import_works_without_openvino() -> None:
    code = (
        "import sys; sys.modules['openvino'] = None\n"
        "import vart_async\n"
        "s = vart_async.available_engines()['openvino']\n"
        "assert not s.available, s\n"
        "print(s.detail)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'vart-async[openvino]'" in out


def test_a_fifo_model_path_is_refused_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "model.onnx"
    os.mkfifo(fifo)  # no writer: OpenVINO's read would block
    with pytest.raises(ValueError, match=r"model path is not a regular file: .*model\.onnx is a FIFO"):
        vart_async.open(fifo)
