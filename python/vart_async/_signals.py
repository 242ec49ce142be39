"""How `vart-async-bench` stops on SIGINT (Ctrl-C), SIGTERM and SIGHUP (all three alike), and when
its reader goes away (a broken pipe).

During a pass a signal cancels the run (no new submissions, jobs in flight drain; another signal
stops the drain), and the tool goes on to print the partial summary and write the report. Before
the first pass (loading the model, staging) the first signal raises `Signalled`, a KeyboardInterrupt,
as Ctrl-C always did there. After the first pass has started nothing is raised any more: a signal
must never cut the summary or the JSON report short, and two signals 10 ms apart must not either.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vart_async.session import Session

SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# What the report's status says, by the first signal (SIGINT keeps the tool's "interrupted").
_STATUS = {"SIGINT": "interrupted", "SIGTERM": "terminated (SIGTERM)", "SIGHUP": "hung up (SIGHUP)"}


class Signalled(KeyboardInterrupt):
    """A stop signal before the first pass: nothing was measured yet."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def name(signum: int) -> str:
    return signal.Signals(signum).name


def status(signum: int) -> str:
    """The report's status for a run stopped by `signum`."""
    return _STATUS.get(name(signum), f"stopped ({name(signum)})")


def exit_code(signum: int) -> int:
    """128 + the signal number, as a shell reports a process ended by it (130, 143, 129)."""
    return 128 + signum


class Stopper:
    """The signal handlers of one invocation. `signals` lists every stop signal received, in order."""

    def __init__(self) -> None:
        self.signals: list[int] = []
        self._session: Session | None = None
        self._raising = True
        self._previous: dict[int, Any] = {}

    @property
    def first(self) -> int | None:
        return self.signals[0] if self.signals else None

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        if self._session is not None:
            self._session.cancel()  # thread-safe: only bumps an atomic counter
        elif self._raising and len(self.signals) == 1:
            raise Signalled(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator[Stopper]:
        """The handlers, for the whole invocation (only the main thread can install them). They are
        put back afterwards, unless a signal came: the three signals are then left ignored."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        for s in SIGNALS:
            self._previous[s] = signal.signal(s, self._on_signal)
        try:
            yield self
        finally:
            # Once stopping, the process is on its way out: a late second signal (Ctrl-C twice, 10 ms
            # apart) must not kill it while it exits (Python resets its handlers to SIG_DFL then).
            for signum, previous in self._previous.items():
                signal.signal(signum, signal.SIG_IGN if self.signals else previous)

    @contextlib.contextmanager
    def cancels(self, session: Session) -> Iterator[None]:
        """During a pass: a signal cancels `session`'s run instead of raising.

        Why a handler rather than Session.run's own Interrupted: a signal then never interrupts the
        CLI's Python code half-way (staging inputs, writing OFM files or the JSON report).
        """
        self._raising = False  # from the first pass on, for good
        self._session = session
        try:
            yield
        finally:
            self._session = None


def silence_stdio() -> None:
    """Points stdout and stderr at /dev/null after a broken pipe: nothing more can reach the reader,
    and the interpreter's last flush must not fail (and print a traceback) again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # no descriptor (a test's capture): nothing to do
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
