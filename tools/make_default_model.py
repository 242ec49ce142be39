"""Generates the small ONNX models vart_async ships and benchmarks with.

    python tools/make_default_model.py                 # python/vart_async/models/default_cnn.onnx
    python tools/make_default_model.py --tiny OUT.onnx # the benchmark's tiny model (Relu + Sigmoid)

default_cnn: float32 input [1,3,32,32] -> Conv 3->16 3x3 pad 1 + Relu -> Conv 16->32 3x3 stride 2
pad 1 + Relu -> GlobalAveragePool -> Flatten -> Gemm -> 10 logits. Weights are drawn from a fixed
seed, so the file is byte-for-byte reproducible (about 22 kB). The tiny model is Relu then Sigmoid
on a float32 [1,3,32,32] input: almost no compute, so it measures per-job overhead.

Needs the `onnx` package (a test/dev dependency, not a runtime one). Tests import `default_cnn()`
and `tiny()` from this file to build the same models.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# Old enough for every onnxruntime >= 1.17 and OpenVINO's ONNX frontend.
OPSET = 13
IR_VERSION = 8
SEED = 20260401
DEFAULT_PATH = Path(__file__).resolve().parents[1] / "python" / "vart_async" / "models" / "default_cnn.onnx"


def _model(graph: onnx.GraphProto) -> onnx.ModelProto:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="vart_async"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def _weight(rng: np.random.Generator, name: str, shape: tuple[int, ...], fan_in: int) -> onnx.TensorProto:
    w = rng.standard_normal(shape).astype(np.float32) * np.float32(np.sqrt(2.0 / fan_in))
    return numpy_helper.from_array(w, name)


def default_cnn() -> onnx.ModelProto:
    rng = np.random.default_rng(SEED)
    inits = [
        _weight(rng, "conv1.w", (16, 3, 3, 3), 3 * 9),
        numpy_helper.from_array((rng.standard_normal(16) * 0.1).astype(np.float32), "conv1.b"),
        _weight(rng, "conv2.w", (32, 16, 3, 3), 16 * 9),
        numpy_helper.from_array((rng.standard_normal(32) * 0.1).astype(np.float32), "conv2.b"),
        _weight(rng, "fc.w", (10, 32), 32),
        numpy_helper.from_array((rng.standard_normal(10) * 0.1).astype(np.float32), "fc.b"),
    ]
    nodes = [
        helper.make_node(
            "Conv", ["input", "conv1.w", "conv1.b"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]
        ),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node(
            "Conv",
            ["r1", "conv2.w", "conv2.b"],
            ["c2"],
            kernel_shape=[3, 3],
            pads=[1, 1, 1, 1],
            strides=[2, 2],
        ),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"]),
        helper.make_node("Flatten", ["gap"], ["flat"], axis=1),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "default_cnn",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])],
        initializer=inits,
    )
    return _model(graph)


def tiny(shape: tuple[int, ...] = (1, 3, 32, 32)) -> onnx.ModelProto:
    nodes = [helper.make_node("Relu", ["input"], ["r"]), helper.make_node("Sigmoid", ["r"], ["output"])]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(shape))],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, list(shape))],
    )
    return _model(graph)


def write(model: onnx.ModelProto, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.SerializeToString())
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("output", nargs="?", type=Path, help=f"where to write (default: {DEFAULT_PATH})")
    parser.add_argument("--tiny", action="store_true", help="the tiny Relu+Sigmoid benchmark model instead")
    args = parser.parse_args(argv)
    if args.tiny:
        if args.output is None:
            parser.error("--tiny needs an output path (the tiny model is not shipped)")
        path = write(tiny(), args.output)
    else:
        path = write(default_cnn(), args.output or DEFAULT_PATH)
    print(f"wrote {path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
