"""A fleet of boards on Ray: benchmark every board at once, or spread one stream over them.

Each board is a Ray node that offers the custom resource `npu` (`ray start --address=HEAD
--resources='{"npu": 1}'` on the board; docs/fleet.md). A board actor takes one `npu` and holds one
Session on its node. Ray is an optional extra (`pip install 'vart-async[fleet]'`), imported only
when a fleet is used: `import vart_async` never imports it.

- `run(model, ...)`: the `vart-async-bench` benchmark on every board at the same time; one report
  per board, the CLI's JSON report plus `board`.
- `stream(model, frames, ...)` / `Fleet(...).stream(frames)`: frames go to the boards in batches
  (one Ray call per batch), outputs come back in frame order, at most `boards x depth` batches are
  in flight (backpressure: frames are taken from the iterable only when there is room).

Models are not sent: `model` must be a path valid on every board (relative paths are made absolute
against the driver's working directory first). Frames and outputs travel through Ray.

A board lost mid-stream (its actor or node died) has its unfinished batches retried on the other
boards, in order, and is listed in `Fleet.lost`; when none is left, FleetError. An exception raised
on a board by the session itself (a bad frame, a failed job) is not retried: BoardError, naming the
board, with the board's message.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from types import ModuleType, TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt

from vart_async._errors import VartAsyncError

#: Frames per Ray call of a stream (amortises Ray's per-call overhead).
DEFAULT_BATCH = 64
#: Batches in flight per board: the next one waits on the board while the current one runs.
DEFAULT_DEPTH = 2
#: How long starting the board actors may take before the fleet gives up (s).
DEFAULT_START_TIMEOUT = 60.0
RESOURCE = "npu"
INSTALL_HINT = "pip install 'vart-async[fleet]'"


class FleetError(VartAsyncError):
    """The fleet cannot be used: no Ray, no cluster, no boards, or every board was lost."""


class FleetUnavailableError(FleetError):
    """Ray is not installed (the message says how to get it)."""


class BoardError(FleetError):
    """A board raised: `board` names it (index, node id, host), the message is the board's."""

    def __init__(self, message: str, board: dict[str, Any]) -> None:
        super().__init__(message)
        self.board = board


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError as e:
        raise FleetUnavailableError(
            f"the fleet needs Ray, which is not installed ({e}): {INSTALL_HINT}"
        ) from None
    return ray


def describe(board: dict[str, Any]) -> str:
    """`board 1 (host, node 3f2a9c1b)`: how messages name a board."""
    return f"board {board['index']} ({board['host']}, node {str(board['node_id'])[:8]})"


def _probe(address: str, timeout: float = 5.0) -> None:
    """A TCP connection to HOST:PORT, so that an unknown address fails at once (ray.init retries
    an unreachable head for minutes)."""
    rest = address.split("://", 1)[-1]
    host, sep, port = rest.rpartition(":")
    if not sep or not port.isdigit():
        return  # Ray's own forms ("auto", "local"): Ray checks them
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise FleetError(f"cannot reach a Ray head at {address}: {e.strerror or e}") from None


def connect(address: str | None = None) -> ModuleType:
    """Ray, connected: the instance already initialised in this process when `address` is None,
    else `ray.init("auto")` (None) or `ray.init(address)`. Returns the ray module."""
    ray = _ray()
    if ray.is_initialized():
        here = ray.get_runtime_context().gcs_address
        if address not in (None, "auto", here):
            raise FleetError(
                f"Ray is already initialised in this process (at {here}); ray.shutdown() first to "
                f"use {address}"
            )
        return ray
    if address is not None:
        _probe(address)
    try:
        ray.init("auto" if address is None else address, log_to_driver=False)
    except ConnectionError as e:
        where = "no running Ray instance found (start one: ray start --head)" if address is None else address
        raise FleetError(f"cannot connect to Ray: {where}: {e}") from None
    return ray


def boards_offered(ray: ModuleType) -> int:
    """How many board actors the cluster can hold: the total of its `npu` resource."""
    return int(ray.cluster_resources().get(RESOURCE, 0))


class _BoardActor:
    """The actor on one board: one Session for streams, the CLI's Bench for benchmarks."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.session: Any = None

    def where(self) -> dict[str, Any]:
        import ray

        return {"index": self.index, "node_id": ray.get_runtime_context().get_node_id(),
                "host": socket.gethostname()}  # fmt: skip

    def open(self, model: str, engine: str, jobs: int, options: dict[str, Any]) -> None:
        import vart_async

        self.session = vart_async.open(model, engine=engine, jobs=jobs, **options)

    def infer(self, frames: Any) -> list[npt.NDArray[Any]]:
        """Each output tensor of the batch stacked: one array (frames x the tensor's shape) each."""
        # One stream per batch keeps this board's slots full for the batch; the next batch is
        # already queued on the actor (depth >= 2), so the pipeline refills at once. Stacked
        # outputs travel as one buffer per tensor instead of one per frame and tensor.
        outputs = list(self.session.stream(frames))  # a stacked array streams row by row
        return [np.stack(tensor) for tensor in zip(*outputs, strict=True)]

    def bench(self, args: argparse.Namespace) -> dict[str, Any]:
        from vart_async import _cli_fleet

        return _cli_fleet.board_report(args)


@dataclass
class _Batch:
    board: int
    frames: list[Any]
    ref: Any


class Fleet:
    """Board actors (each with one `npu`), optionally each with a Session on `model` for streams.

    boards: how many (None: every board the cluster offers). Raises ValueError for boards < 1,
    FleetError when the cluster offers fewer, or when the actors do not all start within
    `start_timeout` seconds (boards held by another job). close() (or the with-block) kills them.
    """

    def __init__(
        self,
        model: str | os.PathLike[str] | None = None,
        boards: int | None = None,
        address: str | None = None,
        *,
        engine: str = "auto",
        jobs: int = 2,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        **options: Any,
    ) -> None:
        if boards is not None and (isinstance(boards, bool) or not isinstance(boards, int) or boards < 1):
            raise ValueError(f"boards must be an integer >= 1 or None (got {boards!r})")
        if isinstance(start_timeout, bool) or not isinstance(start_timeout, int | float) or not (
            0 < start_timeout < float("inf")
        ):
            raise ValueError(f"start_timeout must be a number of seconds > 0 (got {start_timeout!r})")
        ray = self._ray = connect(address)
        offered = boards_offered(ray)
        if offered < 1:
            raise FleetError(
                f"no node of this Ray cluster offers the resource '{RESOURCE}': start each board with "
                f"ray start --address=HEAD --resources='{{\"{RESOURCE}\": 1}}'"
            )
        count = offered if boards is None else boards
        if count > offered:
            raise FleetError(f"asked for {count} boards; this Ray cluster offers {offered} ('{RESOURCE}')")
        actor = ray.remote(num_cpus=0, resources={RESOURCE: 1}, max_restarts=0)(_BoardActor)
        self._actors: list[Any] = [actor.remote(i) for i in range(count)]
        self.lost: list[dict[str, Any]] = []
        try:
            self.boards: list[dict[str, Any]] = self._started([a.where.remote() for a in self._actors],
                                                              start_timeout, count)  # fmt: skip
            if model is not None:
                path = os.path.abspath(os.fspath(model))
                self._gather([a.open.remote(path, engine, jobs, options) for a in self._actors])
        except BaseException:
            self.close()
            raise

    def _started(self, refs: list[Any], timeout: float, count: int) -> list[dict[str, Any]]:
        ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=timeout)
        if len(ready) < len(refs):
            raise FleetError(
                f"only {len(ready)} of {count} board actors started within {timeout:g} s: are the "
                f"boards ('{RESOURCE}') held by another job?"
            )
        return list(self._gather(refs))

    def _gather(self, refs: Sequence[Any]) -> list[Any]:
        """ray.get of one call per board, in board order; a board's exception becomes BoardError."""
        out = []
        for i, ref in enumerate(refs):
            try:
                out.append(self._ray.get(ref))
            except self._ray.exceptions.RayError as e:
                raise self._board_error(i, e) from None
        return out

    def _board_error(self, i: int, e: BaseException) -> FleetError:
        board = self.boards[i] if hasattr(self, "boards") else {"index": i, "host": "?", "node_id": "?"}
        cause = getattr(e, "cause", None)
        if isinstance(e, self._ray.exceptions.RayTaskError) and cause is not None:
            what = f"{type(cause).__name__}: {cause}"
        else:
            what = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return BoardError(f"{describe(board)}: {what}", board)

    def __enter__(self) -> Fleet:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Kills the board actors (their sessions with them) and waits (up to 10 s) until they are
        gone, so that their `npu` is free for the next fleet."""
        actors, self._actors = self._actors, []
        for a in actors:
            self._ray.kill(a, no_restart=True)
        if actors:  # a call on a killed actor fails once Ray knows it is dead
            self._ray.wait([a.where.remote() for a in actors], num_returns=len(actors), timeout=10.0)

    # -- benchmark ----------------------------------------------------------------------------------
    def bench(self, args: argparse.Namespace) -> list[dict[str, Any]]:
        """The CLI's benchmark with `args` on every board at once: one report per board."""
        reports = self._gather([a.bench.remote(args) for a in self._actors])
        for report, board in zip(reports, self.boards, strict=True):
            report["board"] = board
        return reports

    # -- streams ------------------------------------------------------------------------------------
    def stream(
        self, frames: Iterable[Any], *, batch: int = DEFAULT_BATCH, depth: int = DEFAULT_DEPTH
    ) -> Iterator[list[npt.NDArray[Any]]]:
        """Each frame's outputs, in frame order: read-only views into the arrays of its batch.

        Frames go `batch` at a time to the board with the fewest batches in flight; at most
        `depth` batches per board are in flight, so the driver holds at most boards x depth x batch
        frames and one batch of outputs. Closing the iterator (or an exception, Ctrl-C) cancels
        the calls still queued; the boards stay usable.
        """
        for name, value in (("batch", batch), ("depth", depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1 (got {value!r})")
        if not self._actors:
            raise FleetError("the fleet is closed")
        return self._stream(iter(frames), batch, depth)

    def _stream(self, frames: Iterator[Any], batch: int, depth: int) -> Iterator[list[npt.NDArray[Any]]]:
        ray = self._ray
        alive = [i for i in range(len(self._actors)) if self.boards[i] not in self.lost]
        load = dict.fromkeys(alive, 0)
        pending: collections.deque[_Batch] = collections.deque()

        def send(chunk: list[Any]) -> _Batch:
            if not load:
                names = ", ".join(describe(b) for b in self.lost)
                raise FleetError(f"every board of the stream was lost ({names})")
            board = min(load, key=lambda i: (load[i], i))
            load[board] += 1
            return _Batch(board, chunk, self._actors[board].infer.remote(_pack(chunk)))

        more = True
        try:
            while True:
                while more and len(pending) < depth * len(load):
                    chunk = list(islice(frames, batch))
                    if not chunk:
                        more = False
                        break
                    pending.append(send(chunk))
                if not pending:
                    return
                head = pending[0]
                try:
                    outputs = ray.get(head.ref)
                except ray.exceptions.RayActorError:  # the board (actor or node) is gone
                    self._lose(head.board, load)
                    for k, entry in enumerate(list(pending)):  # its batches go to the others, in place
                        if entry.board == head.board:
                            pending[k] = send(entry.frames)
                    continue
                except ray.exceptions.RayError as e:
                    raise self._board_error(head.board, e) from None
                pending.popleft()
                load[head.board] -= 1
                for tensor in outputs:  # Ray may give writable arrays or read-only shared memory
                    tensor.flags.writeable = False
                for k in range(len(head.frames)):
                    yield [tensor[k] for tensor in outputs]
        finally:
            for entry in pending:  # queued calls of a stream nobody reads any more
                with contextlib.suppress(Exception):  # the board may be gone already
                    ray.cancel(entry.ref)

    def _lose(self, board: int, load: dict[int, int]) -> None:
        load.pop(board, None)
        if self.boards[board] not in self.lost:
            self.lost.append(self.boards[board])


def run(
    model: str | os.PathLike[str] | None = None,
    boards: int | None = None,
    address: str | None = None,
    **options: Any,
) -> list[dict[str, Any]]:
    """The `vart-async-bench` benchmark on every board (or `boards` of them) at the same time.

    options are the CLI's, by their Python names: iterations, time_limit, jobs, warmup,
    wait_timeout, spin_us, engine, benchmark, verify, input_binary (a path valid on each board;
    without it the input is random, a dry run) and the engines' options (input_tensor_type,
    device, ...). Returns one report per board: the CLI's JSON report plus `board` (index, node
    id, host); a board whose benchmark could not start reports `status` "error" and its message.
    """
    from vart_async import _cli_fleet

    args = _cli_fleet.namespace(model, options)
    with Fleet(None, boards, address) as fleet:
        return fleet.bench(args)


def stream(
    model: str | os.PathLike[str],
    frames: Iterable[Any],
    boards: int | None = None,
    jobs: int = 2,
    *,
    address: str | None = None,
    batch: int = DEFAULT_BATCH,
    depth: int = DEFAULT_DEPTH,
    **options: Any,
) -> Iterator[list[npt.NDArray[Any]]]:
    """`Fleet(model, boards, address, jobs=jobs, **options).stream(frames)`; the fleet is closed
    when the stream ends or is closed (a dropped stream's actors end with their last handle). To
    stream more than once, keep a Fleet: starting one takes a second or so."""
    fleet = Fleet(model, boards, address, jobs=jobs, **options)
    try:
        outputs = fleet.stream(frames, batch=batch, depth=depth)
    except BaseException:
        fleet.close()
        raise
    return _closing(fleet, outputs)


def _pack(chunk: list[Any]) -> Any:
    """Frames that are arrays of one shape and dtype go stacked (one buffer for Ray to move);
    anything else (lists or dicts of arrays, mixed shapes) as the list it is."""
    first = chunk[0]
    if isinstance(first, np.ndarray) and all(
        isinstance(x, np.ndarray) and x.shape == first.shape and x.dtype == first.dtype for x in chunk
    ):
        return np.stack(chunk)
    return chunk


def _closing(fleet: Fleet, outputs: Iterator[list[npt.NDArray[Any]]]) -> Iterator[list[npt.NDArray[Any]]]:
    try:
        yield from outputs
    finally:
        fleet.close()
