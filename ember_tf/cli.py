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
from ember_tf.errors import EmberError, InputError
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
                    sample_inputs=_load_npz(args.sample_inputs) if args.sample_inputs else None)
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
    """`; l1 on cores 2..3, estimated 1,234 cycles` (or the note of an unplanned kernel)."""
    if entry.estimate is None:
        return f"; {entry.note}" if entry.note else ""
    cores = "all cores" if entry.core_count == 0 else (
        f"core {entry.core_offset}" if entry.core_count == 1 else
        f"cores {entry.core_offset}..{entry.core_offset + entry.core_count - 1}")
    note = f" ({entry.note})" if entry.note else ""
    emulated = f", emulated {entry.emulated:,}" if entry.emulated is not None else ""
    return f"; {entry.strategy} on {cores}, estimated {entry.estimate:,.0f} cycles{emulated}{note}"


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

    if (args.inputs is None) == (args.warmup_requests is None):
        raise EmberError("give exactly one of --inputs and --warmup_requests")
    _check_writable(args.outputs, args.stats_json, args.trace_out)
    overrides = {name: holder.value for name, holder in _MACHINE_FLAGS.items()}
    interpreter = Interpreter(model_path=args.model, machine=args.machine, mode=args.mode, **overrides)
    _refuse_stale(args.model, interpreter.model)
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
    p.set_defaults(run=cmd_run)

    p = commands.add_parser("convert", help="convert a SavedModel or an HLO module to a .daebin (--opt_level, "
                                           "--print_ir_after, --disable_pass)", epilog=_compiler_epilog())
    p.add_argument("source", help="SavedModel directory, HLO text (.hlo, .txt) or serialized HloModuleProto (.pb)")
    p.add_argument("output", help="output .daebin")
    p.add_argument("--signature_key", default=None, help="signatures to convert, comma separated (default: all)")
    p.add_argument("--tags", default="serve", help="meta graph tags, comma separated")
    p.add_argument("--hlo_params", default=None, help="HLO: .npz binding parameters p0, p1, ... as constants "
                                                       "(the tables); unbound parameters are inputs")
    p.add_argument("--target", default="tmu", help="tmu, cpu, gpu, or the path of a machine .toml")
    p.add_argument("--core_mapping", default="auto", choices=MAPPINGS,
                   help="auto: the planner maps tables to core groups by its cost model; even: every kernel on all "
                        "cores (no planner)")
    p.add_argument("--lookup_strategy", default="auto", choices=("auto",) + STRATEGIES,
                   help="auto: per table by the cost model; or one strategy for every table (docs/PLANNER.md)")
    p.add_argument("--sample_inputs", default=None,
                   help=".npz of sample inputs (as `run --inputs`): the kernels' sizes the planner plans with "
                        "(without it, only static shapes)")
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
