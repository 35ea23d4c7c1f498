"""The `ember-tf` command: absl flags plus argparse subcommands, a thin layer
over the library. An EmberError becomes one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import pathlib
import sys
import textwrap

import numpy as np
from absl import app, flags
from absl.flags import argparse_flags

from ember_tf import dae_isa
from ember_tf.dae_isa.summary import format_summary, summarize
from ember_tf.dae_isa.writer import write_files
from ember_tf.errors import EmberError, EmulationError, InputError
from ember_tf.frontend.layout import REPORT_METADATA
from ember_tf.frontend.planning import MAPPINGS, STRATEGIES
from ember_tf.frontend.report import SignatureReport, reports_from_json
from ember_tf.machines import CoreCosts, MachineConfig
from ember_tf.npz import load_npz

# Every machine parameter can be overridden by an absl flag of its name (on any
# subcommand, or in a --flagfile); instruction costs by --cost_<group>.
_MACHINE_HELP = {
    "cores": "cores (each with its own access unit)",
    "lanes": "access-unit lanes per core",
    "outstanding_requests": "memory requests one access unit keeps in flight",
    "dram_bandwidth_gbps": "peak DRAM bandwidth, GB/s",
    "dram_latency_ns": "DRAM latency, ns",
    "queue_chunk_bytes": "bytes per output-queue chunk",
    "queue_chunks": "output-queue chunks (2 = double buffered)",
    "llc_bytes": "last-level cache size, bytes",
    "llc_latency_ns": "last-level cache latency, ns",
    "l1_bytes": "L1 data cache size, bytes",
    "clock_ghz": "core clock, GHz",
    "mlp": "cache misses an ordinary core keeps in flight",
    "callback_dispatch_cycles": "core cycles to pop and dispatch a callback",
    "matrix_flops_per_cycle": "FLOPs per cycle of one core's matrix unit (host segments)",
    "host_launch_cycles": "fixed cycles to start a host segment on the cores",
}


def _define_machine_flags() -> dict:
    holders = {}
    for field in dataclasses.fields(MachineConfig):
        if field.type in ("int", "float"):
            define = flags.DEFINE_integer if field.type == "int" else flags.DEFINE_float
            holders[field.name] = define(field.name, None, _MACHINE_HELP.get(field.name, "machine parameter "
                                                                               f"{field.name} (see ember_tf/machines/*.toml)"))
    for field in dataclasses.fields(CoreCosts):
        holders[f"cost_{field.name}"] = flags.DEFINE_float(f"cost_{field.name}", None,
                                                            f"core cycles per {field.name} instruction")
    return holders


_MACHINE_FLAGS = _define_machine_flags()

# The compiler's flags (compile now, convert once the frontends land).
_OPT_LEVEL = flags.DEFINE_integer("opt_level", 3, "0: decoupling only, 1: +vectorize, 2: +bufferize, "
                                  "3: +queue alignment, callback fusion, memory simplification, "
                                  "accumulator promotion, multi-core split")
_PRINT_IR_AFTER = flags.DEFINE_list("print_ir_after", [], "print the IR to stderr after these passes "
                                    "(or 'all'; 'input' prints what the passes start from)")
_DISABLE_PASS = flags.DEFINE_list("disable_pass", [], "passes to skip (see --print_ir_after=all for names)")


def _read_text(path: str) -> str:
    try:
        return pathlib.Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EmberError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None


def _write_model(model, path: str) -> int:
    try:
        return dae_isa.write_model(model, path)
    except OSError as e:
        raise EmberError(f"{path}: cannot write: {e.strerror or e}") from None


def cmd_asm(args: argparse.Namespace) -> None:
    model = dae_isa.assemble(_read_text(args.source), args.source)
    size = _write_model(model, args.output)
    print(f"wrote {args.output} ({size:,} bytes)")


def cmd_disasm(args: argparse.Namespace) -> None:
    text = dae_isa.disassemble(dae_isa.read_model(args.model))
    if args.output:
        _write_all({args.output: lambda f: f.write(text.encode("utf-8"))})
    else:
        sys.stdout.write(text)


def cmd_inspect(args: argparse.Namespace) -> None:
    model = dae_isa.read_model(args.model)
    info = summarize(model, os.path.getsize(args.model))
    report = info["metadata"].pop(REPORT_METADATA, None)
    reports = reports_from_json(report) if report is not None else None
    if reports is not None and args.stats_json:
        reports = _with_emulated(reports, args.stats_json)
    if reports is not None:
        info["conversion"] = [r.to_json() for r in reports]
    if args.json:
        if args.disasm:
            info["disassembly"] = [dae_isa.disassemble_kernel(k) for k in model.kernels or []]
        json.dump(info, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    sys.stdout.write(format_summary(args.model, info))
    if reports is not None:
        sys.stdout.write(format_report(reports))
    if args.disasm:
        for kernel in model.kernels or []:
            sys.stdout.write("\n" + dae_isa.disassemble_kernel(kernel))


def _with_emulated(reports: list[SignatureReport], stats_path: str) -> list[SignatureReport]:
    """The reports with each kernel's emulated cycles from a run's statistics (the run's
    signature is the one with as many kernels as the run had, in the same order)."""
    try:
        with open(stats_path, encoding="utf-8") as f:
            kernels = json.load(f)["kernels"]
        cycles = [int(k["cycles"]) for k in kernels]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise EmberError(f"{stats_path}: not the statistics of a run ({e})") from None
    matched = False
    for i, report in enumerate(reports):
        if len(report.offloaded) == len(cycles) and not matched:
            offloaded = [dataclasses.replace(e, emulated=c) for e, c in zip(report.offloaded, cycles)]
            reports[i] = dataclasses.replace(report, offloaded=offloaded)
            matched = True
    if not matched:
        raise EmberError(f"{stats_path}: a run of {len(cycles)} kernel(s); no signature of the model has as many")
    return reports


def _compile_options(args: argparse.Namespace):
    """The compiler's options from the flags every compiling subcommand takes (--target and
    the absl flags --opt_level, --print_ir_after, --disable_pass)."""
    from ember_tf.compiler import CompileOptions

    return CompileOptions(target=args.target, opt_level=_OPT_LEVEL.value, print_ir_after=tuple(_PRINT_IR_AFTER.value),
                          disable_pass=tuple(_DISABLE_PASS.value))


def cmd_convert(args: argparse.Namespace) -> None:
    from ember_tf.converter import Converter

    _check_writable(args.output)
    keys = [k for k in (args.signature_key or "").split(",") if k] or None
    tags = [t for t in args.tags.split(",") if t]
    options = _compile_options(args)
    planning = dict(core_mapping=args.core_mapping, lookup_strategy=args.lookup_strategy,
                    sample_inputs=_load_npz(args.sample_inputs) if args.sample_inputs else None,
                    profile=args.profile, hot_bytes=args.hot_bytes)
    if not os.path.isdir(args.source):
        if not os.path.exists(args.source):
            raise EmberError(f"{args.source}: no such SavedModel directory or HLO file")
        with _converting(args.source, options) as status, _naming_samples(args.sample_inputs):
            _convert_hlo(args, Converter.from_hlo(args.source, args.hlo_params, options, **planning), status)
        return
    if args.hlo_params:
        raise EmberError("--hlo_params applies to HLO modules, not to a SavedModel directory")
    with _converting(args.source, options) as status, _naming_samples(args.sample_inputs):
        converter = Converter.from_saved_model(args.source, keys, tags, options, **planning)
        size = _convert_to_file(converter, args.output, status)
    kernels = sum(len(r.offloaded) for r in converter.reports)
    left = sum(len(r.not_offloaded) for r in converter.reports)
    print(f"wrote {args.output} ({size:,} bytes): {len(converter.reports)} signature(s), {kernels} kernel(s)"
          + (f", {left} embedding op(s) left on the host (ember-tf inspect says why)" if left else ""))
    for report in converter.reports:
        for entry in report.offloaded:
            tables = f" on {', '.join(entry.tables)}" if entry.tables else ""
            print(f"  {report.key}: {entry.family} -> {entry.kernel}{tables}{_plan_text(entry)}")


@contextlib.contextmanager
def _naming_samples(path: str | None):
    """Sample inputs the profile run refuses: the one line names the samples file."""
    try:
        yield
    except InputError as e:
        raise EmberError(f"{path}: {e}") from None


def _converting(source: str, options) -> _Status:
    """The spinner of a conversion (loading TensorFlow and the model takes seconds); none while
    --print_ir_after writes IR to the same terminal."""
    if options.print_ir_after:
        return _Status("", enabled=False)
    return _Status(f"converting {source}")


def _convert_to_file(converter, output: str, status: _Status) -> int:
    progress = _Progress(output, status)
    try:
        return converter.convert_to_file(output, progress=progress)
    except OSError as e:
        raise EmberError(f"{output}: cannot write: {e.strerror or e}") from None
    finally:
        status.stop()
        progress.close()


def _convert_hlo(args: argparse.Namespace, converter, status: _Status) -> None:
    size = _convert_to_file(converter, args.output, status)
    (report,) = converter.reports
    print(f"wrote {args.output} ({size:,} bytes): {len(report.offloaded)} kernel(s), "
          f"{len(report.host_segments)} host segment(s) for the HLO evaluator")
    for entry in report.offloaded:
        print(f"  {entry.family} -> {entry.kernel} ({', '.join(entry.nodes)}){_plan_text(entry)}")


class _Progress:
    """`writing OUT: 40% of 1.2 GB` on stderr for files above 64 MiB (a line per 10%
    when stderr is not a terminal)."""

    THRESHOLD = 64 << 20

    def __init__(self, path: str, status: _Status | None = None):
        self.path, self.shown, self.active = path, -1, False
        self.status = status   # the spinner of the conversion, which this line replaces

    def __call__(self, done: int, total: int) -> None:
        if total < self.THRESHOLD:
            return
        if self.status is not None:
            self.status.stop()
        percent = done * 100 // total
        tty = sys.stderr.isatty()
        if percent == self.shown or (not tty and percent // 10 == self.shown // 10 and percent != 100):
            return
        self.shown, self.active = percent, True
        end = "\r" if tty and percent < 100 else "\n"
        print(f"writing {self.path}: {percent:3d}% of {total / 1e9:.2f} GB", end=end, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.active and sys.stderr.isatty() and self.shown < 100:
            print(file=sys.stderr)


def _plan_text(entry) -> str:
    """`; l1 on cores 2..3, estimated 1,234 cycles` (or the note of an unplanned kernel), and
    its table's hot rows."""
    hot = f"; {entry.hot_rows:,} hot rows" if entry.hot_rows else ""
    if entry.estimate is None:
        return (f"; {entry.note}" if entry.note else "") + hot
    cores = "all cores" if entry.core_count == 0 else (
        f"core {entry.core_offset}" if entry.core_count == 1 else
        f"cores {entry.core_offset}..{entry.core_offset + entry.core_count - 1}")
    note = f" ({entry.note})" if entry.note else ""
    emulated = f", emulated {entry.emulated:,}" if entry.emulated is not None else ""
    return f"; {entry.strategy} on {cores}, estimated {entry.estimate:,.0f} cycles{emulated}{note}{hot}"


def format_report(reports: list[SignatureReport]) -> str:
    """The conversion report a converted model carries, as text."""
    lines = []
    for report in reports:
        lines.append(f"\nsignature '{report.key}':")
        for entry in report.offloaded:
            tables = f" table {', '.join(entry.tables)}" if entry.tables else ""
            lines.append(f"  offloaded  {entry.family}: {', '.join(entry.nodes)} -> kernel {entry.kernel}{tables}"
                         f"{_plan_text(entry)}")
        for skipped in report.not_offloaded:
            lines.append(f"  host       {skipped.op} {skipped.node}: {skipped.reason}")
        for segment in report.host_segments:
            ops = ", ".join(f"{op} x{n}" if n > 1 else op for op, n in segment.ops.items()) or "copies only"
            lines.append(f"  segment    {segment.name} ({segment.runs_on} on the host): {ops}")
    return "\n".join(lines) + "\n"


def cmd_demo(args: argparse.Namespace) -> None:
    from ember_tf.demo import run_demo

    output = pathlib.Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    run_demo(output)


# compile's operation-specific flags and the operations they apply to
_OP_FLAGS = {"--combiner": ("embedding_bag",), "--weighted": ("embedding_bag",), "--pooling": ("embedding_bag",),
             "--max_norm": ("gather", "embedding_bag"), "--segments": ("segment_sum",)}


def cmd_compile(args: argparse.Namespace) -> None:
    from ember_tf.compiler import compile_model
    from ember_tf.ir import embedding_ops

    builders = {
        "gather": lambda: embedding_ops.gather(args.dim, args.dtype, args.id_dtype, max_norm=args.max_norm),
        "embedding_bag": lambda: embedding_ops.embedding_bag(args.dim, args.combiner, args.weighted, args.dtype,
                                                             args.id_dtype, args.pooling, max_norm=args.max_norm),
        "segment_sum": lambda: embedding_ops.segment_sum(args.dim, args.dtype, args.id_dtype,
                                                         segments=args.segments),
        "ragged_gather": lambda: embedding_ops.ragged_gather(args.dim, args.dtype, args.id_dtype),
        "spmm_csr": lambda: embedding_ops.spmm_csr(args.dim, args.dtype, args.id_dtype),
    }
    if args.dim < 1:
        raise EmberError(f"--dim must be at least 1, not {args.dim}")
    if args.max_norm is not None and not args.max_norm > 0:
        raise EmberError(f"--max_norm must be positive, not {args.max_norm}")
    if args.pooling is not None and args.pooling < 0:
        raise EmberError(f"--pooling must not be negative, not {args.pooling}")
    given = {"--combiner": args.combiner != "sum", "--weighted": args.weighted, "--pooling": args.pooling is not None,
             "--max_norm": args.max_norm is not None, "--segments": args.segments != "nodes"}
    for flag, ops in _OP_FLAGS.items():
        if given[flag] and args.op not in ops:
            raise EmberError(f"{flag} does not apply to {args.op} (only to {' and '.join(ops)})")
    options = _compile_options(args)
    content = compile_model(builders[args.op](), options)
    _write_all({args.output: lambda f: f.write(content)})
    print(f"wrote {args.output} ({len(content):,} bytes): {args.op} compiled at O{options.opt_level} "
          f"for {args.target}")


def _load_npz(path: str) -> dict[str, np.ndarray]:
    return load_npz(path)


class _Status:
    """A spinner on stderr while a person waits (a terminal only; nothing otherwise);
    `stop` ends it early, before something else is printed."""

    def __init__(self, what: str, enabled: bool = True):
        from rich.console import Console

        console = Console(stderr=True)
        self._status = console.status(what + " ...") if enabled and console.is_terminal else None

    def __enter__(self) -> "_Status":
        if self._status is not None:
            self._status.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def update(self, what: str) -> None:
        """A new text for the spinner (progress through a long run)."""
        if self._status is not None:
            self._status.update(what + " ...")


def _working(what: str, mode: str) -> _Status:
    """The spinner of an emulation: the first fast-mode run compiles the emulator for about
    a minute, and long runs take a while."""
    cached = any((pathlib.Path(__file__).parent / "emulator" / "__pycache__").glob("fast.*.nbi"))
    if mode == "fast" and not cached:
        what += " (the first run compiles the fast emulator: about a minute, once)"
    return _Status(what)


def _check_writable(*paths: str | None) -> None:
    """Output paths whose directory is missing fail before any work is done."""
    for path in paths:
        if path is None:
            continue
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            raise EmberError(f"{path}: cannot write: directory {folder} does not exist")
        if os.path.isdir(path):
            raise EmberError(f"{path}: cannot write: it is a directory")


def _savez(file, arrays: dict[str, np.ndarray]) -> None:
    """An .npz that loads without pickles: string outputs (objects holding bytes) as bytes arrays."""
    np.savez(file, **{k: v.astype(bytes) if v.dtype == object else v for k, v in arrays.items()})


def _write_all(files: dict[str, object]) -> None:
    """Writes every file or none (dae_isa.writer.write_files); one line naming the file
    that could not be written."""
    try:
        write_files(files)
    except OSError as e:
        raise EmberError(f"{e.filename}: cannot write: {e.strerror}") from None


def cmd_run(args: argparse.Namespace) -> None:
    from ember_tf.emulator import Interpreter
    from ember_tf.emulator.trace import chrome_trace

    if sum(a is not None for a in (args.inputs, args.warmup_requests, args.trace_inputs)) != 1:
        raise EmberError("give exactly one of --inputs, --warmup_requests and --trace_inputs")
    if args.trace_inputs is None and (args.trace_stats_json or args.trace_tables):
        raise EmberError("--trace_stats_json and --trace_tables apply to --trace_inputs")
    if args.trace_inputs is not None and (args.stats_json or args.trace_out):
        raise EmberError("--stats_json and --trace_out describe one run; with --trace_inputs, --trace_stats_json "
                         "holds every batch's statistics and the trace's")
    _check_writable(args.outputs, args.stats_json, args.trace_out, args.trace_stats_json)
    overrides = {name: holder.value for name, holder in _MACHINE_FLAGS.items()}
    interpreter = Interpreter(model_path=args.model, machine=args.machine, mode=args.mode,
                              row_cache=_row_cache(args), warm_llc=args.warm_llc, **overrides)
    _refuse_stale(args.model, interpreter.model)
    if args.trace_inputs is not None:
        with _working(f"emulating the trace {args.trace_inputs}", args.mode) as status:
            _run_trace(args, interpreter, status)
        return
    if args.warmup_requests is not None:
        with _working(f"replaying {args.warmup_requests}", args.mode):
            _run_warmup(args, interpreter)
        return
    runner = interpreter.get_signature_runner(args.signature_key)
    inputs = _load_npz(args.inputs)
    try:
        with _working(f"emulating {args.model} on {interpreter.machine.name}", args.mode):
            outputs = runner(**inputs)
    except InputError as e:
        raise EmberError(f"{args.inputs}: {e}") from None
    except EmberError as e:
        raise EmberError(f"{args.model}: {e}") from None
    stats = interpreter.last_stats
    files = {args.outputs: lambda f: _savez(f, outputs)} if args.outputs else {}
    if args.stats_json:
        files[args.stats_json] = lambda f: f.write(json.dumps(stats.to_json(), indent=2).encode())
    if args.trace_out:
        files[args.trace_out] = lambda f: f.write(json.dumps(chrome_trace(stats)).encode())
    _write_all(files)
    print(f"{args.model}: signature '{runner.key}' on {stats.machine}: {_stats_line(stats)}")
    if stats.host_segments:
        print(f"  DAE kernels {stats.kernel_cycles:,} cycles, host segments {stats.host_cycles:,} cycles "
              f"({sum(h.flops for h in stats.host_segments):,} FLOPs on the matrix units)")
    shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items())
    print(f"wrote {args.outputs}: {shapes}" if args.outputs else f"outputs (not written: no --outputs): {shapes}")


def _run_trace(args: argparse.Namespace, interpreter, status: _Status) -> None:
    """`run --trace_inputs`: every batch of the trace in turn (serving/traces.py), a line for
    each and one for the whole; the spinner says which batch is running. --outputs holds every
    batch's outputs as `<batch>/<name>`, written as they come (the file appears only when the
    trace has run to its end)."""
    import zipfile

    from ember_tf.dae_isa.writer import atomic_path
    from ember_tf.serving.traces import TraceStats, read_trace, run_trace, trace_files

    files = trace_files(args.trace_inputs)
    tables = [t for t in (args.trace_tables or "").split(",") if t] or None
    total = TraceStats()
    records = []
    with contextlib.ExitStack() as stack:
        archive = None
        if args.outputs:
            tmp = stack.enter_context(atomic_path(args.outputs))
            archive = stack.enter_context(zipfile.ZipFile(tmp, "w", allowZip64=True))
        batches = read_trace(args.trace_inputs, interpreter, args.signature_key, tables)
        try:
            for number, result in enumerate(run_trace(interpreter, batches)):
                total.add(result)
                records.append(result.to_json())
                batch = result.batch
                print(f"batch {number} {batch.name}: {result.stats.cycles:,} cycles, {result.stats.dram_bytes:,} "
                      f"DRAM bytes, {result.instructions:,} instructions", flush=True)
                status.update(f"emulating the trace {args.trace_inputs}: batch {number + 1} done "
                              f"(file {files.index(batch.file) + 1} of {len(files)}, {batch.file.name})")
                if archive is not None:
                    for name, value in result.outputs.items():
                        with archive.open(f"{number}/{name}.npy", "w", force_zip64=True) as f:
                            np.lib.format.write_array(f, value.astype(bytes) if value.dtype == object else value,
                                                      allow_pickle=False)
        except EmulationError as e:   # a fault of the program (a batch's bad input names its file)
            raise EmberError(f"{args.model}: {e}") from None
        except OSError as e:
            raise EmberError(f"{args.outputs}: cannot write: {e.strerror or e}") from None
        if args.trace_stats_json:
            payload = {"trace": str(args.trace_inputs), "model": str(args.model), "batches": records,
                       "aggregate": total.to_json()}
            _write_all({args.trace_stats_json: lambda f: f.write(json.dumps(payload, indent=2).encode())})
    status.stop()
    summary = total.to_json()
    print(f"{args.model}: {summary['batches']:,} batch(es) of {args.trace_inputs} on {summary['machine']}: "
          f"{summary['cycles']:,} cycles in all ({summary['seconds'] * 1e6:.2f} us), mean {summary['mean_cycles']:,.0f}, "
          f"p50 {summary['p50_cycles']:,}, p99 {summary['p99_cycles']:,}; {summary['dram_bytes']:,} DRAM bytes "
          f"(mean {summary['mean_dram_bytes']:,.0f}); {summary['instructions']:,} instructions")
    if args.outputs:
        print(f"wrote {args.outputs}: outputs as '<batch>/<name>'")


def cmd_profile(args: argparse.Namespace) -> None:
    from ember_tf.emulator import Interpreter
    from ember_tf.planner.hot_rows import save_profile
    from ember_tf.profiling import npz_batches, profile_model, sampled, warmup_batches

    if (args.inputs is None) == (args.warmup_requests is None):
        raise EmberError("give exactly one of --inputs and --warmup_requests")
    _check_writable(args.out, args.plot)
    interpreter = Interpreter(model_path=args.model, machine=args.machine)
    source = args.inputs or args.warmup_requests
    batches = npz_batches(args.inputs) if args.inputs else warmup_batches(args.warmup_requests, interpreter)
    chosen = sampled(batches, args.sample_rate)
    try:
        with _working(f"profiling {args.model} on {len(chosen)} batch(es) of {source}", "fast"):
            profile = profile_model(interpreter, chosen, len(batches))
    except InputError as e:
        raise EmberError(str(e)) from None
    except EmberError as e:
        raise EmberError(f"{args.model}: {e}") from None
    files = {args.out: lambda f: save_profile(profile, f)}
    if args.plot:
        files[args.plot] = lambda f: _plot_profile(profile, f)
    _write_all(files)
    print(profile.summary())
    print(f"wrote {args.out}" + (f" and {args.plot}" if args.plot else ""))


def _plot_profile(profile, file) -> None:
    """Per table, the share of accesses against the share of rows, most read first."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(7, 4.5))
    for table in profile.tables:
        counts = np.sort(table.counts)[::-1]
        rows = np.arange(1, len(counts) + 1) / table.rows
        axes.plot(rows, np.cumsum(counts) / counts.sum(), label=table.name[-40:])
    axes.set_xscale("log")
    axes.set_xlabel("fraction of the table's rows, most read first")
    axes.set_ylabel("fraction of accesses")
    axes.set_title(f"access profile ({profile.batches} batch(es))")
    if len(profile.tables) <= 12:
        axes.legend(fontsize="small")
    figure.tight_layout()
    figure.savefig(file, format="png", dpi=100)
    pyplot.close(figure)


def _row_cache(args: argparse.Namespace):
    """`run --row_cache=lru|lfu --row_cache_bytes=N [--row_cache_ways=W]` (docs/HOT_ROWS.md)."""
    from ember_tf.emulator import RowCacheConfig

    if args.row_cache is None:
        if args.row_cache_bytes:
            raise EmberError("--row_cache_bytes needs --row_cache=lru or lfu")
        return None
    if args.row_cache_bytes <= 0:
        raise EmberError(f"--row_cache={args.row_cache} needs --row_cache_bytes > 0")
    return RowCacheConfig(args.row_cache, args.row_cache_bytes, args.row_cache_ways)


def _stats_line(stats) -> str:
    return (f"{stats.cycles:,} cycles ({stats.seconds * 1e6:.2f} us), {stats.dram_bytes:,} DRAM bytes, "
            f"{stats.achieved_bandwidth_gbps:.1f} GB/s ({stats.percent_of_peak_bandwidth:.1f}% of peak)")


def _refuse_stale(path: str, model) -> None:
    """A program attached to a SavedModel (`<dir>/assets.extra/`) must match it."""
    from ember_tf.serving.attach import check_fingerprint, saved_model_of

    saved_model = saved_model_of(path)
    if saved_model is not None:
        check_fingerprint(path, saved_model, model)


def _run_warmup(args: argparse.Namespace, interpreter) -> None:
    from ember_tf.serving import read_warmup_requests, replay

    requests = read_warmup_requests(args.warmup_requests)
    try:
        results = replay(interpreter, requests)
    except InputError as e:
        raise EmberError(f"{args.warmup_requests}: {e}") from None
    except EmberError as e:
        raise EmberError(f"{args.model}: {e}") from None
    for i, result in enumerate(results):
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in result.outputs.items())
        print(f"request {i} ('{result.request.signature_key}'): {_stats_line(result.stats)}; {shapes}")
    cycles = [r.stats.cycles for r in results]
    print(f"{args.model}: {len(results)} warmup request(s) on {results[0].stats.machine}: "
          f"{sum(cycles):,} cycles in all, {sum(cycles) / len(cycles):,.0f} per request "
          f"(min {min(cycles):,}, max {max(cycles):,})")
    files = {}
    if args.outputs:
        arrays = {f"{i}/{k}": v for i, r in enumerate(results) for k, v in r.outputs.items()}
        files[args.outputs] = lambda f: _savez(f, arrays)
    if args.stats_json:
        payload = [r.stats.to_json() for r in results]
        files[args.stats_json] = lambda f: f.write(json.dumps(payload, indent=2).encode())
    _write_all(files)
    if args.outputs:
        print(f"wrote {args.outputs}: outputs as '<request>/<name>'")


def cmd_attach(args: argparse.Namespace) -> None:
    from ember_tf.serving import attach

    options = _compile_options(args)
    path = attach(args.saved_model, args.signature_key, args.filename, options)
    print(f"wrote {path} ({path.stat().st_size:,} bytes): signature '{args.signature_key}' of "
          f"{args.saved_model} compiled for {args.target}")


def cmd_sweep(args: argparse.Namespace) -> None:
    from ember_tf.sweep import RayOptions, expand, load_spec, run_sweep, write_results
    from ember_tf.sweep.table import check_output, check_plot

    _check_writable(args.out, args.plot)
    check_output(args.out)
    if args.serial and (args.ray_address or args.num_cpus):
        raise EmberError("--serial runs the points in this process: it takes no --ray_address or --num_cpus")
    if args.ray_address and args.num_cpus:
        raise EmberError("--num_cpus sizes a local Ray instance; a cluster at --ray_address has its own")
    if (args.num_cpus is not None and args.num_cpus < 1) or args.max_retries < 0:
        raise EmberError("--num_cpus must be at least 1 and --max_retries at least 0")
    points = expand(load_spec(args.spec))
    if args.plot:
        check_plot(points, args.plot_metric, args.plot_param)
    ray = None if args.serial else RayOptions(args.ray_address, args.num_cpus, args.max_retries)
    cache = args.cache_dir or os.path.join(os.path.dirname(os.path.abspath(args.spec)), ".ember-sweep-cache")
    result = run_sweep(points, cache, ray, _SweepProgress())
    write_results(result.records, points, args.out, args.plot, args.plot_metric, args.plot_param)
    failed = f", {result.failed} failed (the error column says why)" if result.failed else ""
    print(f"{len(points)} points, {result.cached} cached, {result.ran} run{failed}; wrote {args.out}"
          + (f" and {args.plot}" if args.plot else ""))


class _SweepProgress:
    """On stderr: where the points run, each failed point's error, and a line per 10% done."""

    def start(self, points: int, cached: int, where: str) -> None:
        self.todo, self.done, self.shown = points - cached, 0, 0
        if self.todo:
            print(f"{points} points, {cached} cached: running {self.todo} {where}", file=sys.stderr, flush=True)

    def record(self, point, record: dict) -> None:
        self.done += 1
        if record["error"] is not None:
            print(f"point {point.describe()}: {record['error']}", file=sys.stderr, flush=True)
        if self.done * 10 // self.todo > self.shown:
            self.shown = self.done * 10 // self.todo
            print(f"ran {self.done} of {self.todo} points", file=sys.stderr, flush=True)


def _flag_list(holders, title: str) -> str:
    """An epilog listing absl flags a subcommand reads (they are global, so argparse's own
    help does not show them), with their defaults."""
    lines = [f"{title}:"]
    for holder in holders:
        default = "" if holder.default in (None, []) else f" (default: {holder.default})"
        lines.append(textwrap.fill(f"--{holder.name}  {flags.FLAGS[holder.name].help}{default}", width=100,
                                   initial_indent="  ", subsequent_indent="      "))
    return "\n".join(lines)


_COMPILER_FLAGS = "compiler flags"


def _compiler_epilog() -> str:
    return _flag_list((_OPT_LEVEL, _PRINT_IR_AFTER, _DISABLE_PASS), _COMPILER_FLAGS)


def _machine_epilog() -> str:
    names = ", ".join(f"--{name}" for name in _MACHINE_FLAGS)
    return textwrap.fill(f"machine overrides (each replaces one parameter of --machine's file; default: the "
                         f"file's value): {names}", width=100)


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Each option's default in its help (when it has one); epilogs kept as written."""

    def _get_help_string(self, action):
        text = action.help or ""
        if action.default not in (None, False, argparse.SUPPRESS) and "%(default)" not in text \
                and action.option_strings:
            text += " (default: %(default)s)"
        return text


def _parser() -> argparse.ArgumentParser:
    parser = argparse_flags.ArgumentParser(
        prog="ember-tf", description="Compile embedding operations for a Decoupled Access-Execute machine.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_parser = commands.add_parser

    def command(name: str, epilog: str | None = None, **kwargs):
        return add_parser(name, formatter_class=_HelpFormatter, epilog=epilog, **kwargs)

    commands.add_parser = command

    p = commands.add_parser("asm", help="assemble a .dasm file into a .daebin")
    p.add_argument("source", help="input .dasm")
    p.add_argument("output", help="output .daebin")
    p.set_defaults(run=cmd_asm)

    p = commands.add_parser("disasm", help="print a .daebin as .dasm text that assembles back to the same bytes")
    p.add_argument("model", help="input .daebin")
    p.add_argument("output", nargs="?", help="output .dasm (default: stdout)")
    p.set_defaults(run=cmd_disasm)

    p = commands.add_parser("inspect", help="show a .daebin's tensors, kernels, buffers and metadata")
    p.add_argument("model", help="input .daebin")
    p.add_argument("--disasm", action="store_true", help="also print each kernel's program")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--stats_json", default=None,
                   help="statistics of a run of this model (`run --stats_json`): the plan shows each kernel's "
                        "emulated cycles beside its estimate")
    p.set_defaults(run=cmd_inspect)

    p = commands.add_parser("run", help="emulate a .daebin on inputs from an .npz", epilog=_machine_epilog())
    p.add_argument("model", help="input .daebin")
    p.add_argument("--inputs", default=None, help=".npz with one array per signature input")
    p.add_argument("--warmup_requests", default=None,
                   help="replay a TF Serving warmup file (TFRecord of PredictionLog) instead of --inputs")
    p.add_argument("--outputs", default=None, help=".npz to write the signature outputs to (without it: "
                                                    "statistics only)")
    p.add_argument("--signature_key", default=None, help="signature to run (default: the only one, or "
                                                          "serving_default)")
    p.add_argument("--machine", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.add_argument("--mode", default="fast", choices=["fast", "golden"],
                   help="fast (compiled) or golden (the step-by-step reference); both give the same results")
    p.add_argument("--stats_json", default=None, help="write run statistics (cycles, dram_bytes, per core) here")
    p.add_argument("--trace_out", default=None, help="write a Chrome/Perfetto trace here")
    p.add_argument("--trace_inputs", default=None,
                   help="run a trace of batches instead of --inputs: a directory (files in sorted order) of .npz "
                        "batches, FBGEMM-style .npz (indices, offsets and/or lengths) or TF Serving warmup files; "
                        "a line per batch and one for the trace")
    p.add_argument("--trace_stats_json", default=None,
                   help="with --trace_inputs: write every batch's statistics and the trace's (sum, mean, p50/p99 "
                        "cycles) here")
    p.add_argument("--trace_tables", default=None,
                   help="with --trace_inputs: the signature's per-table id inputs FBGEMM-style batches map onto, in "
                        "table order, comma separated (default: the signature's order)")
    p.add_argument("--row_cache", default=None, choices=["lru", "lfu"],
                   help="model a software row cache (FBGEMM's) in the pinned LLC region, kept across the batches "
                        "of a trace (docs/HOT_ROWS.md)")
    p.add_argument("--row_cache_bytes", type=int, default=0, help="with --row_cache: its capacity in bytes")
    p.add_argument("--row_cache_ways", type=int, default=32, help="with --row_cache: its ways (FBGEMM: 32)")
    p.add_argument("--warm_llc", action="store_true",
                   help="keep the LLC's contents from one batch to the next (default: each run starts empty)")
    p.set_defaults(run=cmd_run)

    p = commands.add_parser("profile", help="count the rows each table of a .daebin reads on sample batches "
                                           "(for convert --profile --hot_bytes)")
    p.add_argument("model", help="input .daebin (converted without --profile)")
    p.add_argument("--inputs", default=None, help=".npz of one batch, or a directory of .npz batches")
    p.add_argument("--warmup_requests", default=None, help="a TF Serving warmup file: one batch per request")
    p.add_argument("--out", required=True, help="the profile .npz to write")
    p.add_argument("--sample_rate", type=float, default=0.05,
                   help="the fraction of batches profiled (chosen with a fixed seed; at least one)")
    p.add_argument("--plot", default=None, help="also write a .png of each table's access share")
    p.add_argument("--machine", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.set_defaults(run=cmd_profile)

    p = commands.add_parser("convert", help="convert a SavedModel or an HLO module to a .daebin (--opt_level, "
                                           "--print_ir_after, --disable_pass)", epilog=_compiler_epilog())
    p.add_argument("source", help="SavedModel directory, HLO text (.hlo, .txt) or serialized HloModuleProto (.pb)")
    p.add_argument("output", help="output .daebin")
    p.add_argument("--signature_key", default=None, help="signatures to convert, comma separated (default: all)")
    p.add_argument("--tags", default="serve", help="meta graph tags, comma separated")
    p.add_argument("--hlo_params", default=None, help="HLO: .npz binding parameters p0, p1, ... as constants "
                                                       "(the tables), or a directory of p0.npy, p1.npy, ... read "
                                                       "memory-mapped (tables of many GiB); unbound parameters are "
                                                       "inputs")
    p.add_argument("--target", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.add_argument("--core_mapping", default="auto", choices=MAPPINGS,
                   help="auto: the planner maps tables to core groups by its cost model; even: every kernel on all "
                        "cores (no planner)")
    p.add_argument("--lookup_strategy", default="auto", choices=("auto",) + STRATEGIES,
                   help="auto: per table by the cost model; or one strategy for every table (docs/PLANNER.md)")
    p.add_argument("--sample_inputs", default=None,
                   help=".npz of sample inputs (as `run --inputs`): the kernels' sizes the planner plans with "
                        "(without it, only static shapes)")
    p.add_argument("--profile", default=None, help="an access profile (`ember-tf profile`): keep the most read "
                                                    "rows in the machine's hot-row storage (with --hot_bytes)")
    p.add_argument("--hot_bytes", type=int, default=0,
                   help="the bytes of hot rows to keep (highest count per byte first, across tables)")
    p.set_defaults(run=cmd_convert)

    p = commands.add_parser("attach", help="convert a SavedModel and write the program into its assets.extra/ "
                                          "atomically (for TF Serving)", epilog=_compiler_epilog())
    p.add_argument("saved_model", help="SavedModel directory (a serving version directory)")
    p.add_argument("--signature_key", default="serving_default", help="signature to convert")
    p.add_argument("--filename", default="model.daebin", help="name of the program in assets.extra/")
    p.add_argument("--target", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.set_defaults(run=cmd_attach)

    p = commands.add_parser("compile", help="compile one embedding operation into a .daebin "
                                           "(--opt_level, --print_ir_after, --disable_pass)", epilog=_compiler_epilog())
    p.add_argument("op", choices=["gather", "embedding_bag", "segment_sum", "spmm_csr", "ragged_gather"])
    p.add_argument("output", help="output .daebin")
    p.add_argument("--dim", type=int, required=True, help="row width D of the table")
    p.add_argument("--combiner", default="sum", choices=["sum", "mean", "sqrtn"], help="embedding_bag's combiner")
    p.add_argument("--weighted", action="store_true", help="embedding_bag with per-id weights")
    p.add_argument("--pooling", type=int, default=None, help="embedding_bag over fixed [B, L] ids (L), not CSR")
    p.add_argument("--segments", default="nodes", choices=["nodes", "input", "sorted"],
                   help="segment_sum's output rows: as many as features, an input num_segments, or the "
                        "last (sorted) segment id + 1")
    p.add_argument("--max_norm", type=float, default=None, help="gather/embedding_bag: clip rows to this L2 norm")
    p.add_argument("--dtype", default="f32", choices=["f32", "f16", "bf16"], help="table element type")
    p.add_argument("--id_dtype", default="i32", choices=["i32", "i64"], help="id element type")
    p.add_argument("--target", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.set_defaults(run=cmd_compile)

    p = commands.add_parser("demo", help="run the built-in demonstration")
    p.add_argument("--output_dir", default="demo_output", help="where to write the demo's programs")
    p.set_defaults(run=cmd_demo)

    p = commands.add_parser("sweep", help="convert and emulate the cross product of machines, overrides, models, "
                                         "batches and planner options in SPEC.toml, on Ray (docs/SWEEP.md)")
    p.add_argument("spec", help="the sweep's SPEC.toml")
    p.add_argument("--out", required=True, help="the results table: .parquet or .csv, a row per point")
    p.add_argument("--ray_address", default=None,
                   help="the Ray cluster to run on (as ray.init(address=...) takes it; default: a new local Ray "
                        "instance)")
    p.add_argument("--num_cpus", type=int, default=None,
                   help="CPUs of the local Ray instance: points run at once (default: every CPU)")
    p.add_argument("--serial", action="store_true", help="run the points in this process, one after another "
                                                         "(no Ray: for debugging)")
    p.add_argument("--max_retries", type=int, default=3, help="times a point is run again when its worker process dies")
    p.add_argument("--cache_dir", default=None,
                   help="completed points, one file each, so a rerun skips them (default: .ember-sweep-cache/ "
                        "beside SPEC)")
    p.add_argument("--plot", default=None, help="also write a .png of --plot_metric against --plot_param")
    p.add_argument("--plot_metric", default="cycles", help="the plot's y: a metric column of the results")
    p.add_argument("--plot_param", default="batch",
                   help="the plot's x: a parameter column (machine, override, model, batch, core_mapping, "
                        "lookup_strategy, or an overridden machine parameter); a line per value of the others")
    p.set_defaults(run=cmd_sweep)
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    return _parser().parse_args(argv[1:])


def main(args: argparse.Namespace) -> None:
    try:
        args.run(args)
    except EmberError as e:
        print(f"ember-tf: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("ember-tf: interrupted", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:
        # The reader went away (`ember-tf inspect x | head`): stop quietly, as other tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)


def run() -> None:
    """Console-script entry point."""
    app.run(main, flags_parser=_parse)


if __name__ == "__main__":
    run()
