"""`vart-async-bench`: everything AMD's `vart_infer_async` sample does, plus what benchmark users expect.

Exit status: 0 success (and -h), 1 any error (arguments, model, IFM, runtime, a --verify mismatch),
130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (submissions stop, jobs in flight drain, the partial summary is
printed and the report written), 141 when stdout is closed early (`| head`: quietly, no traceback).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, NoReturn, TextIO

import vart_async
from vart_async import _cli_checks, _cli_fleet, _engines, _ifm, _registry, _report, _signals
from vart_async._cli_checks import MAX_JOBS, MAX_SPIN_US, MAX_SWEEP, integer, jobs_list, seconds
from vart_async._errors import Interrupted, RunError, VartAsyncError
from vart_async.results import RunResult
from vart_async.session import Session

DEFAULT_ITERATIONS = 10
MODE_DRY_RUN = "Mode               : dry-run (no IFM/OFM file I/O; random IFM fill)"
MODE_BENCHMARK = "Mode               : benchmark (timed infer, no OFM file writes, sync pass enabled)"


class Failure(Exception):
    """Ends the program: `lines` go to stderr, the exit status is `code`."""

    def __init__(self, *lines: str, code: int = 1) -> None:
        super().__init__(*lines)
        self.lines = lines
        self.code = code


class _NotStarted(Exception):
    """A stop signal came before this pass: it does not start."""

    result: RunResult | None = None


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """`Error: <message>` and exit status 1, like every other error of the tool (not argparse's 2)."""
        print(f"Error: {message}", file=sys.stderr)
        self.exit(1)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="vart-async-bench",
        allow_abbrev=False,
        description="Pipelined asynchronous inference benchmark on VART-ML (Versal AI Edge Gen 2 NPU, or "
        "its emulator) and OpenVINO: AMD's vart_infer_async sample and more.",
        epilog="Without a model, runs the embedded default model (a dry-run unless --input-binary is "
        "given). Exit status: 0 ok, 1 error, 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP.",
    )
    p.add_argument("model_pos", nargs="?", metavar="MODEL", help="same as --model-path")
    p.add_argument("ifm_pos", nargs="?", metavar="IFM", help="same as --input-binary")
    s = p.add_argument_group("vart_infer_async options")
    s.add_argument(
        "-n", "--num-iteration", type=integer, metavar="N",
        help="jobs, 1..2^63-1 (default 10; with -t: at least N)",
    )
    s.add_argument("-d", "--dry-run", action="store_true", help="random IFM; no IFM read, no OFM writes")
    s.add_argument("--benchmark", action="store_true", help="time an async and a sync pass; no OFM writes")
    s.add_argument("--model-path", metavar="PATH", help=_model_kinds())
    s.add_argument("--input-binary", "--input_binary", dest="input_binary", metavar="PATH", help="IFM file")
    b = p.add_argument_group("benchmark options")
    b.add_argument(
        "--jobs", type=integer, default=2, metavar="K", help=f"jobs in flight, 1..{MAX_JOBS} (default 2)"
    )
    b.add_argument("--engine", default="auto", choices=("auto", *_registry.names()), help="default: auto")
    b.add_argument(
        "-t", "--time", type=seconds, metavar="S", help="run S seconds, 0 < S <= 1e7 (with -n: both limits)"
    )
    b.add_argument(
        "--warmup", type=integer, metavar="N", help="unmeasured jobs before a pass, 0..2^63-1 (default K)"
    )
    b.add_argument(
        "--wait-timeout", type=seconds, default=30.0, metavar="S", help="per job, 0 < S <= 1e7 (default 30)"
    )
    b.add_argument("--spin-us", type=integer, default=vart_async.DEFAULT_SPIN_US, metavar="US",
                   help=f"openvino: poll up to US us (0..{MAX_SPIN_US}) before blocking while jobs are "
                   f"that short (default {vart_async.DEFAULT_SPIN_US}; 0: always block)")
    b.add_argument("--json", metavar="PATH", help="write a JSON report ('-': stdout, text to stderr)")
    b.add_argument("--verify", action="store_true", help="async and sync outputs must be bit-identical")
    b.add_argument(
        "--sweep-jobs", type=jobs_list, metavar="LIST",
        help=f"e.g. 1,2,4,8: a run per K (at most {MAX_SWEEP}, each 1..{MAX_JOBS})",
    )
    b.add_argument("--output-dir", default=".", metavar="DIR", help="where OFM files go (default .)")
    b.add_argument("-q", "--quiet", action="store_true", help="no live progress line")
    g = p.add_argument_group("pictures (matplotlib: pip install 'vart-async[plot]')")
    g.add_argument("--timeline", metavar="PNG", help="per-slot timeline of the measured jobs")
    g.add_argument("--plot-latency", metavar="PNG", help="latency histogram with p50/p90/p99")
    g.add_argument("--plot", metavar="PNG", help="with --sweep-jobs: throughput and p99 against jobs")
    _add_engine_flags(p, [s, b, g])
    _cli_fleet.add_arguments(p)
    return p


def _model_kinds() -> str:
    """`--model-path` help: `.rai / .json / model dir (vart), .onnx / .xml (openvino)`."""
    kinds = [
        " / ".join(r.suffixes + (("model dir",) if r.directories else ())) + f" ({r.name})"
        for r in _registry.records()
    ]
    return ", ".join(kinds)


def _add_engine_flags(p: argparse.ArgumentParser, tool_groups: list[argparse._ArgumentGroup]) -> None:
    """Every engine's option flags, from the registry, in the --help group its record names: one of
    the tool's own (their flags come first), or a group of its own after them."""
    groups = {str(group.title): group for group in tool_groups}
    for record in _registry.records():
        title = record.cli_group or f"{record.title} engine options"
        if title not in groups:
            groups[title] = p.add_argument_group(title)
        for o in record.options:
            typed: dict[str, Any] = {"type": o.type} if o.type is not None else {}
            groups[title].add_argument(
                o.flag, dest=o.key, choices=o.choices, metavar=o.metavar, help=o.help, **typed
            )


def default_model(engine: str = "auto") -> tuple[Path, str]:
    """The embedded model run without --model-path, and its engine.

    With engine="auto", the default model of the highest-ranked engine (the registry's default_rank)
    that is available here, else that of the lowest-ranked one: today default_cnn.onnx on OpenVINO
    (a real runtime) when that engine is available, else the resnet50_int8 emulator descriptor on the
    VART engine (the VART-ML emulator stands in for the NPU).
    """
    models = Path(str(resources.files("vart_async") / "models"))
    if engine != "auto":
        record = _registry.get(engine)
        if record.default_model is None:
            raise Failure(
                f"Error: the {engine} engine has no embedded default model: give one with --model-path"
            )
        return models / record.default_model, engine
    ranked = sorted(
        ((r.default_rank, r.name, r.default_model) for r in _registry.records() if r.default_model),
        key=lambda entry: -entry[0],
    )
    *preferred, (_, fallback, model) = ranked
    if preferred:
        engines = vart_async.available_engines()
        for _, name, file in preferred:
            if (models / file).is_file() and engines[name].available:
                return models / file, name
    return models / model, fallback


class Bench:
    """One invocation. Human-readable text goes to `out`; errors to stderr."""

    def __init__(self, args: argparse.Namespace, out: TextIO, stop: _signals.Stopper | None = None) -> None:
        self.a = args
        self.out = out
        self.stop = stop if stop is not None else _signals.Stopper()
        self.live = out.isatty() and not args.quiet
        self.passes: dict[str, RunResult] = {}
        self.extra: dict[str, Any] = {}
        self.info: _report.RunInfo | None = None
        self.status, self.error = "ok", ""

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

    # -- the steps ----------------------------------------------------------------------------------
    def run(self) -> int:
        a = self.a
        if a.fleet is not None or a.boards is not None:
            return _cli_fleet.run(self, Failure)
        model, ifm_path = self._paths()
        self._check_numbers()
        engine = a.engine
        default = model is None
        if model is None:
            path, engine = default_model(a.engine)
            model = str(path)
        dry_run = a.dry_run or (default and not ifm_path)
        if not dry_run and not ifm_path:
            raise Failure(
                "[ERROR] input_binary is required unless --dry-run is set ",
                "(Use --dry-run or provide a input binary with --input-binary option).",
            )
        if dry_run:
            self.say(MODE_DRY_RUN, "")
        given = self._given_options()
        if a.benchmark:
            self.say(MODE_BENCHMARK, "")
        shown = f"{model} (embedded default model: no --model-path given)" if default else model
        self.say(_report.kv("Model", shown))
        if default and dry_run and not a.dry_run:
            self.say("[INFO] dry-run implied: the default model runs on random input without --input-binary")
        if not os.path.exists(model):
            raise Failure(f"Error: compiled model path does not exist: {model}")
        kind = _ifm.special_file_kind(os.stat(model).st_mode)
        if kind is not None and kind != "a directory":  # a FIFO would block the runtime, a device never end
            raise Failure(f"Error: model path is not a regular file: {model} is {kind}")
        try:
            engine = _engines.choose(model, engine)
        except ValueError as e:
            raise Failure(f"Error: {e}") from None
        options = self._engine_options(engine, given)
        with self._open(model, engine, a.jobs, options) as session:
            self.say(_report.kv("Engine", _report.engine_text(session)))
            ifm = self._load_ifm(session, dry_run, ifm_path)
            self._main_passes(session, writes=not (dry_run or a.benchmark), dry_run=dry_run)
        if a.sweep_jobs and self.status == "ok":
            self._sweep(model, engine, options, ifm)
        return self._finish()

    def _paths(self) -> tuple[str | None, str | None]:
        """The model and IFM: flags win; positionals fill what the flags left, in that order."""
        a = self.a
        pos = [p for p in (a.model_pos, a.ifm_pos) if p is not None]
        model = a.model_path if a.model_path is not None else (pos.pop(0) if pos else None)
        ifm = a.input_binary if a.input_binary is not None else (pos.pop(0) if pos else None)
        if pos:
            raise Failure(
                f"Error: unexpected positional argument(s): {' '.join(pos)} (the model and the input "
                "binary are already given)"
            )
        return model, ifm

    def _check_numbers(self) -> None:
        problem = _cli_checks.check_numbers(self.a)
        if problem is not None:
            raise Failure(problem)

    def _given_options(self) -> dict[str, Any]:
        """The engine options given as flags, whichever engine they belong to, each checked in
        registry order (before the model is looked at, as the sample checks its tensor types)."""
        given: dict[str, Any] = {}
        for record in _registry.records():
            for o in record.options:
                value = getattr(self.a, o.key, None)
                if value is None:
                    continue
                if o.check is not None:
                    try:
                        value = o.check(value)
                    except ValueError as e:
                        raise Failure(f"[ERROR] {o.flag} {e}") from None
                given[o.key] = value
        return given

    def _engine_options(self, engine: str, given: dict[str, Any]) -> dict[str, Any]:
        """`given` when every option in it is one of `engine`'s (its defaults are the registry's,
        applied when the engine is created)."""
        own = {o.key for o in _registry.get(engine).options}
        for key in given:
            if key not in own:
                owner, option = _registry.option_owner(key)
                raise Failure(
                    f"Error: {option.flag} is an option of the {owner.name} engine; "
                    f"this run uses the {engine} engine"
                )
        return given

    def _open(self, model: str, engine: str, jobs: int, options: dict[str, Any]) -> Session:
        try:
            return vart_async.open(model, engine=engine, jobs=jobs, spin_us=self.a.spin_us, **options)
        except (VartAsyncError, ValueError, OSError) as e:
            raise Failure(f"Error: {e}") from None

    def _load_ifm(self, session: Session, dry_run: bool, path: str | None) -> _ifm.Ifm:
        try:
            layout = _ifm.row_layout(session.inputs, session.batch_size)
            self.say(_report.kv("Input row", f"{layout.describe()}; batch {session.batch_size}"))
            ifm = _ifm.prepare(layout, None if dry_run else path)
        except _ifm.IfmError as e:
            raise Failure(f"Error: {e}") from None
        self.say(*ifm.messages)
        for slot in session.slots:
            _ifm.stage(slot.inputs, ifm.rows, ifm.layout)
        a = self.a
        iterations = a.num_iteration if a.num_iteration is not None or a.time else DEFAULT_ITERATIONS
        self.info = _report.RunInfo.of(session, self._warmup(session.jobs), iterations, a.time, ifm.source)
        return ifm

    def _warmup(self, jobs: int) -> int:
        return self.a.warmup if self.a.warmup is not None else jobs

    def _run(
        self,
        session: Session,
        mode: Literal["async", "sync"],
        *,
        iterations: int | None = None,
        warmup: int | None = None,
        live: bool = True,
    ) -> RunResult:
        assert self.info is not None
        limits = (iterations, None) if iterations else (self.info.iterations, self.info.time_limit_s)
        bar = None
        if self.live and live:
            bar = _report.Progress(
                self.out, batch_size=session.batch_size, total=limits[0], time_limit=limits[1]
            )
        try:
            with self.stop.cancels(session):
                if self.stop.signals:  # a signal between two passes
                    raise _NotStarted
                r = session.run(
                    limits[0],
                    limits[1],
                    mode,
                    wait_timeout=self.a.wait_timeout,
                    warmup=self._warmup(session.jobs) if warmup is None else warmup,
                    progress=bar.update if bar else None,
                    progress_interval=0.5,
                )
        finally:
            if bar:
                bar.clear()
        if self.stop.signals:
            raise Interrupted(r)
        return r

    def _main_passes(self, session: Session, *, writes: bool, dry_run: bool) -> None:
        a = self.a
        if writes:
            try:
                Path(a.output_dir).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise Failure(
                    f"Error: cannot create --output-dir {a.output_dir}: {e.strerror or e}"
                ) from None
        label = "async"
        try:
            self.say("---- Async infer (binary IFM) pass  ----")
            r = self.passes["async"] = self._run(session, "async")
            if a.benchmark:
                self.say(_report.pass_line("async", r))
                self.say("---- Sync infer (binary IFM) pass ----")
                label = "sync"
                s = self.passes["sync"] = self._run(session, "sync")
                self.say(_report.pass_line("sync", s), _report.perf_table(self.passes))
            else:
                self._output_dump(session, r, writes, dry_run)
            if a.verify:
                label = "verify"
                self._verify(session)
        except (Interrupted, RunError, _NotStarted) as e:
            if e.result is not None and label != "verify":
                self.passes[label] = e.result
            self._stopped(e)

    def _stopped(self, e: BaseException) -> None:
        """The status of a run that a signal or an error stopped."""
        if isinstance(e, (Interrupted, _NotStarted)):
            self.status = self.error = _signals.status(self.stop.first or signal.SIGINT)
        else:
            self.status, self.error = "error", str(e)

    def _output_dump(self, session: Session, r: RunResult, writes: bool, dry_run: bool) -> None:
        if writes and r.completed:
            frame = r.completed - 1  # frames are jobs here: the last completed job of the measured pass
            outputs = session.slots[int(r.slot[frame])].outputs
            try:
                files = _ifm.write_ofms(
                    outputs, session.outputs, frame, session.batch_size, self.a.output_dir
                )
            except OSError as e:
                raise Failure(f"Error: {e}") from None
            self.say(*(f.line() for f in files))
            self.extra["ofm_files"] = [f.to_dict() for f in files]
        self.say(*_report.output_dump(r, dry_run))

    def _verify(self, session: Session) -> None:
        """Every slot runs once async and once sync on the staged inputs: outputs must match bit for bit.

        A different byte pattern goes into the outputs before each run, so one left unwritten shows.
        """
        _ifm.fill_outputs([slot.outputs for slot in session.slots], 0xA5)
        self._run(session, "async", iterations=session.jobs, warmup=0, live=False)
        first = [[o.copy() for o in slot.outputs] for slot in session.slots]
        _ifm.fill_outputs([slot.outputs for slot in session.slots], 0x5A)
        self._run(session, "sync", iterations=session.jobs, warmup=0, live=False)
        diff = _ifm.compare_outputs(first, [slot.outputs for slot in session.slots])
        if diff is not None:
            k, t, offset = diff
            name = session.outputs[t].name
            self.extra["verify"] = {"ok": False, "output": name, "slot": k, "offset": offset}
            self.status, self.error = "error", _report.verify_mismatch(name, k, offset)
            return
        self.extra["verify"] = {"ok": True, "tensors": len(session.outputs), "slots": session.jobs}
        self.say(_report.verify_ok(len(session.outputs), session.jobs))

    def _sweep(self, model: str, engine: str, options: dict[str, Any], ifm: _ifm.Ifm) -> None:
        entries: list[_report.SweepEntry] = []
        try:
            for k in self.a.sweep_jobs:
                self.say(f"---- Jobs sweep: jobs={k} ----")
                with self._open(model, engine, k, options) as session:
                    for slot in session.slots:
                        _ifm.stage(slot.inputs, ifm.rows, ifm.layout)
                    try:
                        entries.append(_report.SweepEntry(k, self._run(session, "async")))
                    except (Interrupted, RunError, _NotStarted) as e:
                        if e.result is not None:
                            entries.append(_report.SweepEntry(k, e.result))
                        raise
        except (Interrupted, RunError, _NotStarted) as e:
            self._stopped(e)
        except Failure as f:  # a jobs count the engine cannot open: report what was measured so far
            self.status, self.error = "error", " ".join(f.lines).removeprefix("Error: ")
        if entries:
            self.say(_report.sweep_table(entries))
        self.extra["sweep"] = _report.sweep_rows(entries)

    def report(self) -> dict[str, Any]:
        """The JSON report of this invocation (after run(): also what a fleet's board returns)."""
        assert self.info is not None
        return _report.report(self.info, self.passes, status=self.status, error=self.error, extra=self.extra)

    def _finish(self) -> int:
        assert self.info is not None
        signum = self.stop.first
        if self.status == "error":
            print(f"Error: {self.error}", file=sys.stderr, flush=True)
        elif signum is not None and self.status == _signals.status(signum):
            said = "interrupted (Ctrl-C)" if signum == signal.SIGINT else self.status
            print(f"[WARN] {said}: submissions stopped, jobs in flight drained", file=sys.stderr)
        self.say(_report.summary(self.info, self.passes, partial=self.status != "ok"))
        self.say(*_report.pictures(self.a, self.info, self.passes, self.extra.get("sweep", [])))
        if self.a.json:
            doc = self.report()
            try:
                _report.write_json(self.a.json, doc)
            except BrokenPipeError:  # --json - | head: main() ends quietly
                raise
            except OSError as e:
                raise Failure(
                    f"Error: cannot write the JSON report {self.a.json}: {e.strerror or e}"
                ) from None
        if self.status == "ok":
            return 0
        return _signals.exit_code(signum) if signum is not None and self.status != "error" else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the tool; returns the exit status."""
    try:
        args = build_parser().parse_intermixed_args(argv)
    except SystemExit as e:  # -h (0), or a usage error already printed as "Error: ..." (1)
        return e.code if isinstance(e.code, int) else 1
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):  # an ASCII locale must not turn "—" into a traceback
            stream.reconfigure(errors="backslashreplace")
    stop = _signals.Stopper()
    try:
        with stop.installed():  # SIGINT, SIGTERM, SIGHUP: all stop the run alike
            try:
                return Bench(args, sys.stderr if args.json == "-" else sys.stdout, stop).run()
            except Failure as f:
                for line in f.lines:
                    print(line, file=sys.stderr)
                return f.code
            except KeyboardInterrupt as e:  # a signal before the first pass (loading, staging): no report
                signum = e.signum if isinstance(e, _signals.Signalled) else signal.SIGINT
                said = "Interrupted." if signum == signal.SIGINT else f"Stopped by {_signals.name(signum)}."
                print(f"\n{said}", file=sys.stderr)
                return _signals.exit_code(signum)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other tools do
        _signals.silence_stdio()
        return 128 + 13  # as if killed by SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
