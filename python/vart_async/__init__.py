"""vart_async: pipelined asynchronous inference on VART-ML (Versal AI Edge Gen 2) and OpenVINO.

Several jobs stay in flight, each with its own preallocated buffers, so the host prepares the next
job while the accelerator runs the current one. The loop runs in C++ without the GIL.
"""

from __future__ import annotations

import os
from typing import Any

from vart_async._completion import Job, QueuedJob
from vart_async._engines import EngineStatus
from vart_async._engines import status as _engine_status
from vart_async._errors import (
    EngineError,
    EngineUnavailableError,
    Interrupted,
    JobFailedError,
    ModelNotFoundError,
    PipelineClosedError,
    RunError,
    VartAsyncError,
    WaitTimeoutError,
)
from vart_async._outputs import Outputs
from vart_async._quant import QuantParams, TensorView
from vart_async._registry import names as _engine_names
from vart_async._specs import SlotView, TensorSpec
from vart_async.results import RunResult
from vart_async.session import DEFAULT_SPIN_US, Session

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_SPIN_US",
    "EngineError",
    "EngineStatus",
    "EngineUnavailableError",
    "Interrupted",
    "Job",
    "JobFailedError",
    "ModelNotFoundError",
    "Outputs",
    "PipelineClosedError",
    "QuantParams",
    "QueuedJob",
    "RunError",
    "RunResult",
    "Session",
    "SlotView",
    "TensorSpec",
    "TensorView",
    "VartAsyncError",
    "WaitTimeoutError",
    "__version__",
    "available_engines",
    "open",
]


def open(
    model: str | os.PathLike[str],
    engine: str = "auto",
    jobs: int = 2,
    *,
    spin_us: int = DEFAULT_SPIN_US,
    **options: Any,
) -> Session:
    """Loads `model` on an engine with `jobs` preallocated job slots.

    engine: "auto" (by the model: .json/.rai/cache dir -> vart, .onnx/.xml -> openvino), "vart"
    or "openvino". Options go to the engine (vart: input_tensor_type, output_tensor_type,
    completion="callback"|"poll", log_level, ...; openvino: device, hint, streams, threads,
    precision, ...). spin_us: see Session. Use as a context manager.

    vart completion: "callback" (default) learns that a job finished from the execute_async
    callback overload and collects jobs in completion order; "poll" waits for the oldest job with
    Runner::wait (FIFO, as vart_infer_async). `Session.info["properties"]` says which is in use.
    """
    return Session(model, engine, jobs, spin_us=spin_us, **options)


def available_engines() -> dict[str, EngineStatus]:
    """Every engine, whether it can be used here, and whether it is emulated."""
    return {name: _engine_status(name) for name in _engine_names()}
