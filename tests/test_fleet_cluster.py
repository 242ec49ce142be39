"""vart_async.fleet on a multi-node Ray cluster (ray.cluster_utils.Cluster): a head without boards
and two "boards", each a node of its own offering `npu: 1`, all on this machine.

One cluster for the module (bringing it up takes ~15 s on 2 cores).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import vart_async
from vart_async import fleet

pytestmark = pytest.mark.fleet

MODEL: dict[str, Any] = {
    "format": "vart-emu/1",
    "name": "fleet_nodes",
    "batch_size": 1,
    "compute_units": 2,
    "execution_slots": 2,
    "service_time_us": 500,
    "inputs": [{"name": "x", "data_type": "UINT8", "shape": [1, 32], "layout": "NC"}],
    "outputs": [{"name": "y", "data_type": "UINT8", "shape": [1, 8], "layout": "NC"}],
}


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, Any, list[Any]]]:
    import ray  # a missing Ray fails these tests (deselect them with -m "not fleet")
    from ray.cluster_utils import Cluster

    if ray.is_initialized():
        ray.shutdown()
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        nodes = [c.add_node(num_cpus=1, resources={"npu": 1}) for _ in range(2)]
        ray.init(address=c.address, log_to_driver=False)
        c.wait_for_nodes()
        yield ray, c, nodes
    finally:
        ray.shutdown()
        c.shutdown()


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fleet_nodes") / "fleet_nodes.json"
    path.write_text(json.dumps(MODEL))
    return str(path)


def frames(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (1, 32), dtype=np.uint8) for _ in range(n)]


def test_each_board_is_a_node_of_its_own_and_reports(cluster, model):
    _, _, nodes = cluster
    reports = fleet.run(model, iterations=20)
    assert [r["status"] for r in reports] == ["ok", "ok"]
    assert {r["board"]["node_id"] for r in reports} == {n.node_id for n in nodes}


def test_a_board_node_lost_mid_stream_has_its_frames_retried_on_the_other(cluster, model):
    _, c, nodes = cluster
    xs = frames(600)
    with vart_async.open(model, jobs=2) as s:
        want = [[o.copy() for o in out] for out in s.stream(xs)]
    with fleet.Fleet(model) as f:
        assert len(f.boards) == 2
        outputs = f.stream(xs, batch=8)
        got = [next(outputs) for _ in range(40)]
        c.remove_node(nodes[0])  # the board's node goes away, its actor with it
        got += list(outputs)
        assert len(got) == len(want)
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(got, want, strict=True))
        assert [b["node_id"] for b in f.lost] == [nodes[0].node_id]
