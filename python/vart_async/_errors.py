"""The exception hierarchy, and the one place runtime failures become exceptions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vart_async.results import RunResult


class VartAsyncError(Exception):
    """Base class of every error vart_async raises on purpose."""


class EngineError(VartAsyncError):
    """The runtime failed: a model did not load, a job failed, a submission was refused."""


class ModelNotFoundError(EngineError, FileNotFoundError):
    """The model path does not exist."""


class EngineUnavailableError(VartAsyncError):
    """The chosen engine's runtime is not installed (the message says how to get it)."""


class PipelineClosedError(VartAsyncError):
    """The session was closed."""


class RunError(EngineError):
    """A run stopped early. `result` holds everything measured until then."""

    def __init__(self, message: str, result: RunResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class WaitTimeoutError(RunError, TimeoutError):
    """A job did not finish within the wait timeout (it may still be running)."""


class JobFailedError(RunError):
    """The runtime reported that a job failed."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run: submissions stopped, in-flight jobs drained. `result` is the partial run."""

    def __init__(self, result: RunResult) -> None:
        super().__init__("interrupted")
        self.result = result


# The one status -> exception table: every path (run, stream, submit, callbacks, asyncio) raises
# through it. The keys are the core's outcome names (csrc/core/window.hpp, StopReason).
_REASON_ERRORS: dict[str, type[RunError]] = {
    "job_failed": JobFailedError,
    "wait_timeout": WaitTimeoutError,
    "submit_failed": RunError,
    "busy_timeout": WaitTimeoutError,
}


def error_for(reason: str, message: str, result: RunResult | None = None) -> RunError:
    """The exception for a core outcome (`reason` other than 'finished' / 'cancelled')."""
    return _REASON_ERRORS.get(reason, RunError)(message, result)


def raise_for_run(result: RunResult, context: str) -> None:
    """Raises the error a run's stop reason stands for ('finished' and 'cancelled' are not errors)."""
    if result.reason in _REASON_ERRORS:
        raise error_for(result.reason, f"{context}: {result.message} ({result.summary_line()})", result)
