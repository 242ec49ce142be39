"""vart_async.fleet on a real local Ray instance with two emulated boards (`npu: 2`).

One Ray instance for the whole module (starting one takes seconds). Ray is imported by the fixture,
not at module level, so that `-m "not fleet"` can deselect these tests where Ray is not installed.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import vart_async
from vart_async import cli, fleet

pytestmark = pytest.mark.fleet

MODEL: dict[str, Any] = {
    "format": "vart-emu/1",
    "name": "fleet_test",
    "batch_size": 1,
    "compute_units": 2,
    "execution_slots": 2,
    "service_time_us": 200,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 64], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "UINT8", "shape": [1, 16], "layout": "NC"}],
}


@pytest.fixture(scope="module")
def ray_local() -> Iterator[Any]:
    import ray  # a missing Ray fails these tests (deselect them with -m "not fleet")

    if ray.is_initialized():
        ray.shutdown()
    ray.init(resources={"npu": 2}, num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fleet") / "fleet_test.json"
    path.write_text(json.dumps(MODEL))
    return str(path)


def frames(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (1, 64), dtype=np.uint8) for _ in range(n)]


def local_outputs(model: str, xs: list[np.ndarray]) -> list[list[np.ndarray]]:
    with vart_async.open(model, jobs=2) as s:
        return [[o.copy() for o in out] for out in s.stream(xs)]


def same(got: list[list[np.ndarray]], want: list[list[np.ndarray]]) -> bool:
    return len(got) == len(want) and all(
        len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
        for a, b in zip(got, want, strict=True)
    )


def npu_free(ray: Any, timeout: float = 5.0) -> float:
    """The free `npu` once both boards are free (Ray frees a killed actor's resources soon after)."""
    deadline = time.monotonic() + timeout
    while ray.available_resources().get("npu", 0) != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return float(ray.available_resources().get("npu", 0))


# -- fleet.run ------------------------------------------------------------------------------------
def test_run_gives_the_cli_report_of_every_board_plus_board(ray_local, model, tmp_path):
    reports = fleet.run(model, iterations=40, benchmark=True, jobs=2)
    local = tmp_path / "local.json"
    assert cli.main([model, "-d", "--benchmark", "-n", "40", "-q", "--json", str(local)]) == 0
    keys = set(json.loads(local.read_text()))
    assert [r["board"]["index"] for r in reports] == [0, 1]
    for r in reports:
        assert set(r) == keys | {"board"}
        assert r["status"] == "ok"
        assert r["completed"] == 40
        assert r["sync"]["completed"] == 40
        assert r["model"] == model
        assert r["throughput_fps"] > 0
        assert set(r["board"]) == {"index", "node_id", "host"}
        assert r["board"]["node_id"] == ray_local.get_runtime_context().get_node_id()


def test_run_reports_a_board_that_cannot_open_the_model(ray_local, tmp_path):
    missing = tmp_path / "nowhere.json"
    reports = fleet.run(missing, boards=1, iterations=5)
    assert len(reports) == 1
    assert reports[0]["status"] == "error"
    assert str(missing) in reports[0]["error"]
    assert reports[0]["board"]["index"] == 0


def test_an_exception_inside_a_boards_benchmark_raises_boarderror_naming_it(ray_local):
    with fleet.Fleet(boards=1) as f, pytest.raises(fleet.BoardError, match=r"^board 0 \(.*AttributeError"):
        f.bench(argparse.Namespace())  # not the CLI's arguments: the board's Bench fails


@pytest.mark.parametrize(
    ("options", "message"),
    [({"iterations": 0}, "iteration"), ({"colour": "red"}, "unknown option 'colour'"),
     ({"jobs": "many"}, "jobs")],
)  # fmt: skip
def test_run_refuses_bad_options_before_any_board_starts(ray_local, model, options, message):
    with pytest.raises(ValueError, match=message):
        fleet.run(model, **options)


# -- boards ---------------------------------------------------------------------------------------
def test_boards_zero_or_more_than_offered(ray_local, model):
    with pytest.raises(ValueError, match="boards must be an integer >= 1"):
        fleet.Fleet(model, boards=0)
    with pytest.raises(fleet.FleetError, match="asked for 3 boards; this Ray cluster offers 2"):
        fleet.Fleet(model, boards=3)
    with pytest.raises(ValueError, match="start_timeout must be"):
        fleet.Fleet(model, start_timeout=0)
    with pytest.raises(fleet.FleetError, match="already initialised"):
        fleet.Fleet(model, address="127.0.0.1:1")
    assert npu_free(ray_local) == 2  # nothing left holding a board


def test_boards_held_by_another_fleet_time_out_naming_the_resource(ray_local, model):
    with fleet.Fleet(model, 2), pytest.raises(fleet.FleetError, match=r"only 0 of 1 board actors started"):
        fleet.Fleet(model, 1, start_timeout=1.0)
    assert npu_free(ray_local) == 2


def test_a_board_that_cannot_open_the_model_is_named(ray_local, tmp_path):
    with pytest.raises(fleet.BoardError, match=r"board 0 \(.*node .*nowhere\.json") as e:
        fleet.Fleet(tmp_path / "nowhere.json", boards=2)
    assert e.value.board["index"] == 0


# -- fleet.stream ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("n", "batch"), [(333, 16), (5, 64), (0, 8)])
def test_stream_outputs_equal_one_sessions_in_frame_order(ray_local, model, n, batch):
    xs = frames(n, seed=n)
    got = list(fleet.stream(model, xs, boards=2, batch=batch))
    assert same(got, local_outputs(model, xs))


def test_stream_spreads_batches_over_both_boards_and_is_reusable(ray_local, model):
    xs = frames(200, seed=1)
    want = local_outputs(model, xs)
    with fleet.Fleet(model, 2) as f:
        assert same(list(f.stream(xs, batch=10)), want)
        pids = ray_local.get([a.where.remote() for a in f._actors])
        assert len({p["index"] for p in pids}) == 2
        assert same(list(f.stream(iter(xs), batch=7, depth=1)), want)
        with pytest.raises(ValueError, match="batch must be an integer >= 1"):
            f.stream(xs, batch=0)
    with pytest.raises(fleet.FleetError, match="closed"):
        f.stream(xs)


def test_backpressure_takes_frames_only_when_a_batch_has_room(ray_local, model):
    taken = 0

    def endless() -> Iterator[np.ndarray]:
        nonlocal taken
        x = np.zeros((1, 64), np.uint8)
        while True:
            taken += 1
            yield x

    batch, depth, boards = 8, 2, 2
    with fleet.Fleet(model, boards) as f:
        outputs = f.stream(endless(), batch=batch, depth=depth)
        for consumed in range(1, 200):
            next(outputs)
            assert taken - consumed <= boards * depth * batch + batch
        outputs.close()  # type: ignore[attr-defined]
        xs = frames(50, seed=3)
        assert same(list(f.stream(xs, batch=batch)), local_outputs(model, xs))  # still usable


def test_an_interrupted_stream_leaves_the_fleet_usable(ray_local, model):
    def interrupted() -> Iterator[np.ndarray]:
        yield from frames(100)
        raise KeyboardInterrupt  # as Ctrl-C in the middle of taking frames

    with fleet.Fleet(model, 2) as f:
        with pytest.raises(KeyboardInterrupt):
            list(f.stream(interrupted(), batch=8))
        xs = frames(40, seed=4)
        assert same(list(f.stream(xs, batch=8)), local_outputs(model, xs))
    assert npu_free(ray_local) == 2


def test_peak_driver_memory_of_a_100000_frame_stream_is_bounded(ray_local, model):
    # 100 000 frames of 4 KiB = 400 MB if the driver held them; it holds boards x depth x batch.
    def many() -> Iterator[np.ndarray]:
        for i in range(100_000):
            yield np.full((1, 4096), i % 251, np.uint8)

    body = dict(MODEL, service_time_us=0, inputs=[dict(MODEL["inputs"][0], shape=[1, 4096])])
    path = Path(model).with_name("fleet_4k.json")
    path.write_text(json.dumps(body))
    with fleet.Fleet(path, 2) as f:
        tracemalloc.start()
        try:
            count = sum(1 for _ in f.stream(many(), batch=1024))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert count == 100_000
    assert peak < 40 << 20, f"peak driver allocations {peak / 2**20:.1f} MiB"


# -- failures -------------------------------------------------------------------------------------
def test_a_board_killed_mid_stream_has_its_frames_retried_on_the_other(ray_local, model):
    xs = frames(600, seed=2)
    want = local_outputs(model, xs)
    with fleet.Fleet(model, 2) as f:
        outputs = f.stream(xs, batch=8)
        got = [next(outputs) for _ in range(50)]
        ray_local.kill(f._actors[0], no_restart=True)
        got += list(outputs)
        assert same(got, want)
        assert [b["index"] for b in f.lost] == [0]
        assert same(list(f.stream(xs[:40], batch=8)), want[:40])  # the other board goes on alone


def test_every_board_killed_mid_stream_raises_naming_them(ray_local, model):
    with fleet.Fleet(model, 2) as f:
        outputs = f.stream(frames(400), batch=4)
        next(outputs)
        for a in f._actors:
            ray_local.kill(a, no_restart=True)
        with pytest.raises(fleet.FleetError, match=r"every board of the stream was lost") as e:
            list(outputs)
        assert "board 0 (" in str(e.value)
        assert "board 1 (" in str(e.value)


def test_an_exception_inside_a_board_raises_boarderror_naming_it(ray_local, model):
    xs: list[Any] = frames(100)
    xs[75] = np.zeros((1, 3), np.uint8)  # not the model's input size
    with fleet.Fleet(model, 2) as f:
        outputs = f.stream(xs, batch=10)
        got = []
        with pytest.raises(fleet.BoardError, match=r"^board [01] \(.*\): ValueError: .*") as e:
            got.extend(outputs)
        assert len(got) == 70  # the batches before the bad frame's (70-79) came back
        assert e.value.board in f.boards
        assert not f.lost  # a bad frame is not a lost board: the fleet still streams
        assert len(list(f.stream(frames(30), batch=10))) == 30


DRIVER = """
import sys, ray, numpy as np
from vart_async import fleet
ray.init(address=sys.argv[1], log_to_driver=False)
def endless():
    x = np.zeros((1, 64), np.uint8)
    while True:
        yield x
try:
    for i, _ in enumerate(fleet.stream(sys.argv[2], endless(), boards=2, batch=8)):
        if i == 100:
            print("streaming", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_ctrl_c_during_a_stream_ends_the_driver_and_frees_the_boards(ray_local, model, tmp_path):
    script = tmp_path / "driver.py"
    script.write_text(textwrap.dedent(DRIVER))
    address = ray_local.get_runtime_context().gcs_address
    proc = subprocess.Popen(
        [sys.executable, str(script), address, model], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "streaming"
        deadline = time.monotonic() + 10
        while ray_local.available_resources().get("npu", 0) != 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # both boards are the driver's while it streams
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert out.strip() == "interrupted"
    assert "Traceback" not in err
    assert npu_free(ray_local, timeout=15) == 2


def test_ctrl_c_during_a_fleet_benchmark_exits_130_and_frees_the_boards(ray_local, model):
    address = ray_local.get_runtime_context().gcs_address
    proc = subprocess.Popen(
        [sys.executable, "-m", "vart_async.cli", model, "-d", "-t", "60", "--fleet", address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while ray_local.available_resources().get("npu", 0) != 0 and time.monotonic() < deadline:
            time.sleep(0.1)  # the boards are running the benchmark
        assert ray_local.available_resources().get("npu", 0) == 0
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Interrupted." in err
    assert "Traceback" not in err
    assert npu_free(ray_local, timeout=15) == 2


# -- the CLI --------------------------------------------------------------------------------------
def test_cli_fleet_prints_a_row_per_board_and_the_total_and_a_boards_report(
    ray_local, model, tmp_path, capsys
):
    path = tmp_path / "fleet.json"
    assert cli.main([model, "-d", "-n", "30", "--fleet", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    doc = json.loads(path.read_text())
    assert doc["schema"] == "vart-async-bench-fleet/1"
    assert doc["status"] == "ok"
    assert [b["board"]["index"] for b in doc["boards"]] == [0, 1]
    assert doc["throughput_fps"] == pytest.approx(sum(b["throughput_fps"] for b in doc["boards"]))
    rows = [line for line in out.splitlines() if line.startswith(("| board 0", "| board 1", "| total"))]
    assert len(rows) == 3, out


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--boards", "3"], "asked for 3 boards"), (["--timeline", "t.png"], "--timeline is not available"),
     (["--boards", "0"], "boards must be an integer >= 1")],
)  # fmt: skip
def test_cli_fleet_errors(ray_local, model, capsys, argv, message):
    assert cli.main([model, "-d", "-n", "5", "--fleet", *argv]) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
