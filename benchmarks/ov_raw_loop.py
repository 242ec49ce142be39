"""Builds and runs benchmarks/ov_raw_loop.cpp, the plain C++ OpenVINO async loop ("our limit").

    python benchmarks/ov_raw_loop.py MODEL [--jobs 2] [--time 3] [--order fifo|any] [--frames N] [--spin US]
                                     [K=V ...]
    python benchmarks/ov_raw_loop.py --build-only

It is compiled with the system C++ compiler (`CXX`, default g++) against the headers and the
libopenvino.so.NNNN of the *installed* openvino wheel, into a cache folder, and rebuilt when the
source or the OpenVINO release changes. Benchmarks import `build()` and `run()`.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SOURCE = Path(__file__).resolve().with_suffix(".cpp")


def _openvino() -> tuple[Path, str]:
    import openvino

    release = str(openvino.__version__).split("-", 1)[0]
    return Path(openvino.__file__).resolve().parent, release


def command(output: Path) -> list[str]:
    """The compiler command line that builds ov_raw_loop into `output`."""
    root, release = _openvino()
    # The wheel ships no unversioned libopenvino.so: link the SONAME file itself (2026.4.1 -> .2641).
    soname = "".join(release.split(".")).removeprefix("20")
    library = root / "libs" / f"libopenvino.so.{soname}"
    if not library.exists():
        raise FileNotFoundError(f"{library} not found: is the openvino wheel installed completely?")
    cxx = shlex.split(os.environ.get("CXX", "g++"))
    return [
        *cxx, "-O2", "-std=c++17", "-DNDEBUG", "-D_GLIBCXX_USE_CXX11_ABI=1", f"-I{root / 'include'}",
        str(SOURCE), str(library), f"-Wl,-rpath,{root / 'libs'}", "-o", str(output),
    ]  # fmt: skip


def build(cache_dir: Path | None = None) -> Path:
    """Compiles ov_raw_loop (once per source and OpenVINO release); returns the executable."""
    _, release = _openvino()
    cache = cache_dir or Path(tempfile.gettempdir()) / "vart_async_bench"
    cache.mkdir(parents=True, exist_ok=True)
    exe = cache / f"ov_raw_loop-{release}"
    if not exe.exists() or exe.stat().st_mtime < SOURCE.stat().st_mtime:
        subprocess.run(command(exe), check=True)
    return exe


def run(
    model: str | os.PathLike[str],
    jobs: int = 2,
    seconds: float = 3.0,
    device: str = "CPU",
    properties: dict[str, str] | None = None,
    *,
    order: str = "fifo",
    frames: int = 0,
    spin_us: int = 0,
) -> dict[str, Any]:
    """Runs the loop; returns its JSON report (iterations, duration_s, fps, mean_latency_us, ...).

    order: "fifo" waits for the oldest request (vart_async's order), "any" restarts whichever
    request finishes first (AsyncInferQueue's and benchmark_app's). frames > 0 streams: a new
    frame (of `frames` distinct ones) is copied in before each submission, the outputs out after.
    spin_us > 0 (order "any") polls for finished requests that long before blocking.
    """
    args = [str(build()), os.fspath(model), "--jobs", str(jobs), "--time", str(seconds), "--device", device,
            "--order", order, "--frames", str(frames), "--spin", str(spin_us)]
    args += [f"{k}={v}" for k, v in (properties or {}).items()]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    report: dict[str, Any] = json.loads(out)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--time", type=float, default=3.0)
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--frames", type=int, default=0, help="stream N distinct frames (default 0: replay)")
    parser.add_argument("--order", choices=["fifo", "any"], default="fifo",
                        help="wait for the oldest request (fifo) or take whichever finishes first (any)")
    parser.add_argument("--spin", type=int, default=0, metavar="US",
                        help="with --order any: poll up to US microseconds before blocking")
    parser.add_argument("--build-only", action="store_true", help="build, print the command and the path")
    parser.add_argument("properties", nargs="*", metavar="KEY=VALUE", help="OpenVINO properties")
    args = parser.parse_intermixed_args()
    if args.build_only:
        exe = build()
        print(shlex.join(command(exe)))
        print(exe)
        return
    if not args.model:
        parser.error("give a model (or --build-only)")
    props = dict(p.split("=", 1) for p in args.properties)
    report = run(args.model, args.jobs, args.time, args.device, props, order=args.order, frames=args.frames,
                 spin_us=args.spin)
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
