"""`vart-async-bench`: run a model through the async pipeline and report what was measured."""

from __future__ import annotations

import argparse
import sys
from importlib import resources
from pathlib import Path

import numpy as np

import vart_async
from vart_async._errors import Interrupted, VartAsyncError

DEMO_MODEL = "resnet50_int8.emu.json"


def default_model() -> Path:
    """The embedded demo model (an emulator descriptor shaped like AMD's resnet50_int8)."""
    return Path(str(resources.files("vart_async") / "models" / DEMO_MODEL))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vart-async-bench",
        description="Pipelined asynchronous inference benchmark (VART-ML / OpenVINO).",
    )
    p.add_argument("model_pos", nargs="?", metavar="MODEL", help="model path (same as --model-path)")
    p.add_argument("--model-path", help="model: .rai / cache dir (VART), .json (VART emulator), .onnx/.xml")
    p.add_argument("-n", "--num-iteration", type=int, default=10, help="jobs to run (default 10)")
    p.add_argument("-d", "--dry-run", action="store_true", help="random inputs, no file I/O")
    p.add_argument("--jobs", type=int, default=2, help="jobs in flight (default 2)")
    p.add_argument("--engine", default="auto", choices=("auto", "vart", "openvino"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.model_pos and args.model_path:
        print("Error: give the model once (positional or --model-path)", file=sys.stderr)
        return 1
    model = args.model_path or args.model_pos
    if model is None:
        model = default_model()
        print(f"Model              : {model.name} (embedded demo model)")
    if args.num_iteration < 1:
        print("[ERROR] --num-iteration must be >= 1.", file=sys.stderr)
        return 1
    if args.jobs < 1:
        print("[ERROR] --jobs must be >= 1.", file=sys.stderr)
        return 1
    try:
        with vart_async.open(model, engine=args.engine, jobs=args.jobs) as s:
            kind = "EMULATED, no NPU" if s.emulated else "hardware"
            print(f"Engine             : {s.engine} — {s.runtime} ({kind})")
            rng = np.random.default_rng()
            for slot in s.slots:
                for arr in slot.inputs:
                    arr.view(np.uint8)[...] = rng.integers(0, 256, arr.nbytes, dtype=np.uint8).reshape(
                        arr.view(np.uint8).shape
                    )
            r = s.run(iterations=args.num_iteration)
            lat = r.latency_stats()
            print(f"Jobs               : {r.completed} / {r.submitted} completed, {args.jobs} in flight")
            print(f"Throughput         : {r.fps:.2f} FPS ({r.wall_s * 1e3:.2f} ms)")
            print(f"Latency (ms)       : p50 {lat['p50']:.3f}  p99 {lat['p99']:.3f}  max {lat['max']:.3f}")
    except Interrupted as e:
        print(f"Interrupted: {e.result.summary_line()}", file=sys.stderr)
        return 130
    except (VartAsyncError, ValueError, OSError) as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
