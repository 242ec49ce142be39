"""`vart-async-bench`: everything AMD's `vart_infer_async` sample does, plus what benchmark users expect.

Exit status: 0 success (and -h), 1 any error (arguments, model, IFM, runtime, a --verify mismatch),
130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (submissions stop, jobs in flight drain, the partial summary is
printed and the report written), 141 when stdout is closed early (`| head`: quietly, no traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import signal
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TextIO

import vart_async
from vart_async import (
    _cli_checks,
    _cli_config,
    _cli_feed,
    _cli_fleet,
    _cli_measure,
    _config,
    _engines,
    _ifm,
    _inputs,
    _registry,
    _report,
    _signals,
)
from vart_async._cli_parser import build_parser
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
        self.raw: dict[str, str] = {}
        self.sync_options: dict[str, Any] | None = None
        self.inputs = _cli_feed.Feed(None, None, {})

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
        if a.input_data is not None and (ifm_path or a.dry_run):
            raise Failure("Error: --input-data gives the inputs: it goes without --input-binary or --dry-run")
        dry_run = a.dry_run or (default and not ifm_path and a.input_data is None)
        if not dry_run and not ifm_path and a.input_data is None:
            raise Failure(
                "[ERROR] input_binary is required unless --dry-run is set ",
                "(Use --dry-run or provide a input binary with --input-binary option).",
            )
        if dry_run:
            self.say(MODE_DRY_RUN, "")
        given = self._given_options()
        try:
            raw = _cli_config.properties(a, given)
        except ValueError as e:
            raise Failure(f"Error: {e}") from None
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
        self.raw = raw
        self.sync_options = _cli_config.sync_options(engine, options, raw)
        if a.mode == "sync" and not a.benchmark and self.sync_options is not None:
            options, self.sync_options = self.sync_options, None  # a sync-only run: compiled for latency
        with self._open(model, engine, a.jobs, options) as session:
            self.say(_report.kv("Engine", _report.engine_text(session)))
            self.say(*_cli_config.summary_lines(session))
            self.extra["configuration"] = _cli_config.compiled(session)
            self._dump_config(session)
            self.inputs = self._load_inputs(session, dry_run, ifm_path)
            writes = not (dry_run or a.benchmark)
            self._main_passes(session, model, engine, writes=writes, dry_run=dry_run)
            if a.rate and len(a.rate) > 1 and self.status == "ok":
                self._rate_sweep(session)
            if a.max_latency and self.status == "ok":
                self._budget_search(session)
        if a.sweep_jobs and self.status == "ok":
            self._sweep(model, engine, options)
        return self._finish()

    def _export_jobs(self) -> None:
        if not self.a.export_jobs or not self.passes:
            return
        frames = len(self.inputs.frames) if self.inputs.frames else None
        try:
            n = _cli_measure.export_jobs(self.a.export_jobs, list(self.passes.items()), frames)
        except OSError as e:
            why = e.strerror or e
            raise Failure(f"Error: cannot write --export-jobs {self.a.export_jobs}: {why}") from None
        self.say(f"Wrote {self.a.export_jobs} ({n} jobs)")

    def _dump_config(self, session: Session) -> None:
        if not self.a.dump_config:
            return
        device = str(session.info.get("properties", {}).get("DEVICE", "CPU"))
        try:
            _config.dump_config(self.a.dump_config, device, session.info.get("requested", {}))
        except OSError as e:
            why = e.strerror or e
            raise Failure(f"Error: cannot write --dump-config {self.a.dump_config}: {why}") from None
        self.say(f"[INFO] wrote the runtime configuration to {self.a.dump_config}")

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
        """`given` as the engine's options when every flag in it is one of `engine`'s (its defaults
        are the registry's, applied when the engine is created); a flag may stand for several
        (--input-tensor-type CPU,image=HW)."""
        own = {o.key: o for o in _registry.get(engine).options}
        options: dict[str, Any] = {}
        for key, value in given.items():
            if key not in own:
                owner, option = _registry.option_owner(key)
                raise Failure(
                    f"Error: {option.flag} is an option of the {owner.name} engine; "
                    f"this run uses the {engine} engine"
                )
            options.update(own[key].options(value))
        return options

    def _open(self, model: str, engine: str, jobs: Any, options: dict[str, Any]) -> Session:
        try:
            return vart_async.open(
                model, engine=engine, jobs=jobs, spin_us=self.a.spin_us, properties=self.raw, **options
            )
        except (VartAsyncError, ValueError, OSError) as e:
            raise Failure(f"Error: {e}") from None

    def _load_inputs(self, session: Session, dry_run: bool, path: str | None) -> _cli_feed.Feed:
        """What every pass runs on (see _cli_feed.load), staged into the session's slots."""
        a = self.a
        try:
            feed = _cli_feed.load(
                session, dry_run=dry_run, ifm_path=path, input_data=a.input_data, seed=a.seed, say=self.say
            )
        except (_ifm.IfmError, _inputs.InputDataError) as e:
            raise Failure(f"Error: {e}") from None
        feed.stage(session, a.seed)
        iterations = a.num_iteration if a.num_iteration is not None or a.time else DEFAULT_ITERATIONS
        self.info = _report.RunInfo.of(session, self._warmup(session.jobs), iterations, a.time, feed.source)
        if a.percentiles:
            self.info.percentiles = a.percentiles
        self.info.configuration = _cli_config.summary_lines(session)
        return feed

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
        measured: bool = True,
        rate: float | None = None,
        seconds: float | None = None,
        depth: int | None = None,
    ) -> RunResult:
        """A pass. `measured`: with the run's frames (--input-data) and arrival rate (--rate; `rate`
        overrides it); verify's runs are not."""
        assert self.info is not None
        limits = (iterations, None) if iterations else (self.info.iterations, self.info.time_limit_s)
        if seconds is not None:
            limits = (None, seconds)
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
                    frames=self.inputs.frames if measured else None,
                    rate=(rate or (self.a.rate[0] if self.a.rate else None)) if measured else None,
                    arrival=self.a.arrival,
                    seed=self.a.seed,
                    drop_late=self.a.drop_late and measured,
                    max_in_flight=depth,
                )
        finally:
            if bar:
                bar.clear()
        if self.stop.signals:
            raise Interrupted(r)
        return r

    def _main_passes(self, session: Session, model: str, engine: str, *, writes: bool, dry_run: bool) -> None:
        a = self.a
        if writes:
            try:
                Path(a.output_dir).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise Failure(
                    f"Error: cannot create --output-dir {a.output_dir}: {e.strerror or e}"
                ) from None
        label = "sync" if a.mode == "sync" and not a.benchmark else "async"
        try:
            if label == "async":
                self.say("---- Async infer (binary IFM) pass  ----")
                r = self._stable_pass(session) if a.stable else self._run(session, "async")
                self.passes["async"] = r
                self.extra["cold_start"] = _cli_config.cold_start(session, r)
            if a.benchmark or label == "sync":
                if a.benchmark:
                    self.say(_report.pass_line("async", r))
                self.say("---- Sync infer (binary IFM) pass ----")
                label = "sync"
                with self._sync_session(session, model, engine) as baseline:
                    r = self.passes["sync"] = self._run(baseline, "sync")
                    self.extra.setdefault("cold_start", _cli_config.cold_start(baseline, r))
                if a.benchmark:
                    self.say(_report.pass_line("sync", r), _report.perf_table(self.passes))
            if not a.benchmark:
                self._output_dump(session, r, writes, dry_run)
            if a.verify:
                label = "verify"
                self._verify(session)
        except (Interrupted, RunError, _NotStarted) as e:
            if e.result is not None and label != "verify":
                self.passes[label] = e.result
            self._stopped(e)

    def _sync_session(
        self, session: Session, model: str, engine: str
    ) -> contextlib.AbstractContextManager[Session]:
        """The session of the sync pass: the async one, or (a fair baseline) one compiled the way a
        sync user would, unless the hint or properties were given."""
        if self.sync_options is None:
            return contextlib.nullcontext(session)
        baseline = self._open(model, engine, session.jobs, self.sync_options)
        self.say(*_cli_config.summary_lines(baseline, "sync"))
        self.extra["sync_configuration"] = _cli_config.compiled(baseline)
        if self.info is not None:
            self.info.configuration += _cli_config.summary_lines(baseline, "sync")
            self.info.sync_basis = _cli_config.speedup_basis(session, baseline)
        self.inputs.stage(baseline, self.a.seed)
        return baseline

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
                    outputs, session.outputs, frame, session.output_batch_size, self.a.output_dir
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
        self.inputs.stage(session, self.a.seed)  # with --input-data: frame k in slot k, not cycled
        _ifm.fill_outputs([slot.outputs for slot in session.slots], 0xA5)
        self._run(session, "async", iterations=session.jobs, warmup=0, live=False, measured=False)
        first = [[o.copy() for o in slot.outputs] for slot in session.slots]
        _ifm.fill_outputs([slot.outputs for slot in session.slots], 0x5A)
        self._run(session, "sync", iterations=session.jobs, warmup=0, live=False, measured=False)
        diff = _ifm.compare_outputs(first, [slot.outputs for slot in session.slots])
        if diff is not None:
            k, t, offset = diff
            name = session.outputs[t].name
            self.extra["verify"] = {"ok": False, "output": name, "slot": k, "offset": offset}
            self.status, self.error = "error", _report.verify_mismatch(name, k, offset)
            return
        self.extra["verify"] = {"ok": True, "tensors": len(session.outputs), "slots": session.jobs}
        self.say(_report.verify_ok(len(session.outputs), session.jobs))

    def _stable_pass(self, session: Session) -> RunResult:
        """--stable: windows until the last ones agree (or the time is up); the pass's figures are
        those of the last windows together."""
        st = self.a.stable
        limit = self.a.time if self.a.time else 10 * st.windows * st.window_s
        results: list[RunResult] = []
        t0 = time.monotonic()
        try:
            while True:
                warmup = None if not results else 0  # the first window warms up as a pass does
                results.append(self._run(session, "async", seconds=st.window_s, warmup=warmup))
                if st.converged(results) or time.monotonic() - t0 + st.window_s > limit:
                    break
        except (Interrupted, RunError, _NotStarted) as e:
            if e.result is not None:
                results.append(e.result)
                e.result = RunResult.concat(results[-st.windows :])
            raise
        finally:
            self.extra["stability"] = st.report(results, time.monotonic() - t0)
        return RunResult.concat(results[-st.windows :])

    def _budget_search(self, session: Session) -> None:
        """--max-latency: the highest throughput within the latency budget (one window per point)."""
        window = self.a.stable.window_s if self.a.stable else 2.0
        self.say(f"---- Latency budget search ({window:g} s per point) ----")
        points: list[dict[str, Any]] = []
        try:
            doc = _cli_measure.search_budget(
                self.a.max_latency,
                lambda rate, k: self._run(session, "async", seconds=window, rate=rate, warmup=0, depth=k),
                session.jobs,
                points=points,
            )
        except (Interrupted, RunError, _NotStarted) as e:
            self._stopped(e)
            doc = _cli_measure.budget_doc(self.a.max_latency, points, complete=False)
        self.say(_cli_measure.budget_table(doc))
        self.extra["latency_budget"] = doc

    def _rate_sweep(self, session: Session) -> None:
        """One async pass per --rate after the first (the main pass): throughput and percentiles per rate."""
        results = [self.passes["async"]] if "async" in self.passes else []
        try:
            for rate in self.a.rate[1:]:
                self.say(f"---- Rate sweep: {rate:g} jobs/s ----")
                try:
                    results.append(self._run(session, "async", rate=rate))
                except (Interrupted, RunError, _NotStarted) as e:
                    if e.result is not None:
                        results.append(e.result)
                    raise
        except (Interrupted, RunError, _NotStarted) as e:
            self._stopped(e)
        assert self.info is not None
        self.say(_cli_measure.rate_table(results, self.info.percentiles))
        self.extra["rate_sweep"] = [_cli_measure.rate_row(r, self.info.percentiles) for r in results]

    def _sweep(self, model: str, engine: str, options: dict[str, Any]) -> None:
        entries: list[_report.SweepEntry] = []
        try:
            for k in self.a.sweep_jobs:
                self.say(f"---- Jobs sweep: jobs={k} ----")
                with self._open(model, engine, k, options) as session:
                    self.inputs.stage(session, self.a.seed)
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
        if "cold_start" in self.extra:
            self.info.cold_start = _cli_config.cold_start_line(self.extra["cold_start"])
        if "stability" in self.extra:
            self.info.configuration.append(_cli_measure.stability_line(self.extra["stability"]))
        self._export_jobs()
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        from vart_async import _cli_compare

        return _cli_compare.main(argv[1:])
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
