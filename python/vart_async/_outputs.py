"""A job's outputs: a list in model order that also indexes by output name (`out["logits"]`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, SupportsIndex, overload

import numpy.typing as npt

Array = npt.NDArray[Any]


class Outputs(list[Array]):
    """The outputs of one job, in model order: `out[0]`, `out[-1]`, `out[1:]` as a list, and by
    name, `out["logits"]` (KeyError naming the outputs there are); `names`, `as_dict()`."""

    def __init__(self, arrays: Iterable[Array], names: Iterable[str]) -> None:
        super().__init__(arrays)
        self.names: tuple[str, ...] = tuple(names)

    @overload
    def __getitem__(self, key: SupportsIndex) -> Array: ...
    @overload
    def __getitem__(self, key: slice) -> list[Array]: ...
    @overload
    def __getitem__(self, key: str) -> Array: ...
    def __getitem__(self, key: SupportsIndex | slice | str) -> Array | list[Array]:
        if isinstance(key, str):
            if key not in self.names:
                there = ", ".join(map(repr, self.names))
                raise KeyError(f"no output named {key!r} (the outputs are {there})")
            return super().__getitem__(self.names.index(key))
        return super().__getitem__(key)

    def keys(self) -> Iterator[str]:
        return iter(self.names)

    def as_dict(self) -> dict[str, Array]:
        return dict(zip(self.names, self, strict=True))


class NamedStream:
    """A session's native stream, yielding each job's outputs as Outputs (by position and name).
    Stepping, closing and dropping it are the native stream's (one caller at a time, jobs in
    flight waited for)."""

    def __init__(self, native: Iterator[list[Array]], names: tuple[str, ...]) -> None:
        self._native = native
        self._names = names

    def __iter__(self) -> NamedStream:
        return self

    def __next__(self) -> Outputs:
        return Outputs(next(self._native), self._names)

    def close(self) -> None:
        close = getattr(self._native, "close", None)
        if close is not None:
            close()
