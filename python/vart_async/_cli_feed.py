"""What `vart-async-bench`'s passes run on: the IFM rows (--input-binary), random values by dtype
(--dry-run), or frames (--input-data, one per job, cycled); and how they go into the slots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vart_async import _ifm, _inputs, _report
from vart_async.session import Session


@dataclass
class Feed:
    """IFM rows, frames (one per job, cycled), or neither (random values); `source` for the report."""

    ifm: _ifm.Ifm | None
    frames: list[_inputs.Frame] | None
    source: dict[str, Any]

    def stage(self, session: Session, seed: int) -> None:
        """Every slot's inputs: the IFM rows, frame k in slot k (not cycled), or random values."""
        if self.ifm is not None:
            for slot in session.slots:
                _ifm.stage(slot.inputs, self.ifm.rows, self.ifm.layout)
        elif self.frames is not None:
            for k, slot in enumerate(session.slots):
                for dst, src in zip(slot.inputs, self.frames[k % len(self.frames)], strict=True):
                    dst[...] = src
        else:
            session.fill_random(seed)


def load(
    session: Session,
    *,
    dry_run: bool,
    ifm_path: str | None,
    input_data: str | None,
    seed: int,
    say: Callable[..., None],
) -> Feed:
    """Reads what the passes run on, saying what it is. Raises _ifm.IfmError or
    _inputs.InputDataError (the caller's clear errors)."""
    layout = _ifm.row_layout(session.inputs, session.batch_size)
    say(_report.kv("Input row", f"{layout.describe()}; batch {session.batch_size}"))
    if dry_run:
        say(
            f"[INFO] dry-run: inputs filled with random values by dtype (seed {seed}; floats "
            "uniform in [0, 1), no NaN/Inf/denormals); no IFM file read."
        )
        return Feed(None, None, {"source": "random", "seed": seed})
    if input_data is not None:
        frames, source = _inputs.load_frames(input_data, session.inputs, session.batch_size)
        say(
            f"[INFO] --input-data {input_data}: {source['rows']} row(s), {len(frames)} "
            "frame(s), a different one per job, cycled"
        )
        return Feed(None, frames, source)
    ifm = _ifm.prepare(layout, ifm_path)
    say(*ifm.messages)
    return Feed(ifm, None, ifm.source)
