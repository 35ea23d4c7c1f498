"""`ember-tf demo`: the built-in demonstration.

Part 1 builds a small DLRM-like model with TensorFlow (`ember_tf.dlrm`: eight
tables behind one-hot, multi-hot and fixed-length features, two MLPs), saves
it, converts the SavedModel for the DAE machine (`tmu`) and for the CPU
baseline (`cpu`), emulates both .daebin files on one batch, checks the
outputs against TensorFlow's, and reports what was offloaded, cycles,
bandwidth and the tmu-versus-cpu speedup.

Part 2 is the compiler against the yardstick: the hand-written embedding-bag
kernel (kernels/eb_sum.dasm) and its CPU twin, assembled and emulated, then
the same bag compiled at O0..O3 and compared with it.
"""

from __future__ import annotations

import pathlib
import time

import numpy as np
from absl import logging

from ember_tf import dae_isa
from ember_tf.dae_isa.writer import write_files
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError

KERNELS = pathlib.Path(__file__).resolve().parent.parent / "kernels"


def _reference(table: np.ndarray, indices: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    out = np.zeros((len(offsets) - 1, table.shape[1]), np.float32)
    for b in range(len(offsets) - 1):
        for p in range(offsets[b], offsets[b + 1]):
            out[b] += table[indices[p]]
    return out


def _compiled(output_dir: pathlib.Path, feeds: dict, expected: np.ndarray, dim: int, hand_cycles: int) -> None:
    """The same bag compiled at every opt level (one core, like the hand-written kernel),
    then at O3 across all cores."""
    from ember_tf.compiler import CompileOptions, compile_model
    from ember_tf.ir import embedding_ops

    print("\n[compiler] embedding_bag(sum) compiled for tmu; cycles, and hand-written cycles / compiled cycles:")
    bag = embedding_ops.embedding_bag(dim, "sum")
    for level, disabled, label in ((0, (), "O0"), (1, (), "O1"), (2, (), "O2"),
                                   (3, ("split_cores",), "O3"), (3, (), "O3, all cores")):
        content = compile_model(bag, CompileOptions(target="tmu", opt_level=level, disable_pass=disabled))
        path = output_dir / f"demo_compiled_{label.replace(', ', '_').replace(' ', '_')}.daebin"
        write_files({path: lambda f, content=content: f.write(content)})
        interpreter = Interpreter(model_path=path, machine="tmu", mode="fast")
        out = interpreter.get_signature_runner()(**feeds)["out"]
        if not np.allclose(out, expected, rtol=1e-5, atol=1e-5):
            raise EmberError(f"{path}: the compiled kernel's output differs from numpy")
        stats = interpreter.last_stats
        print(f"[compiler] {label:14} {stats.cycles:>10,} cycles  {hand_cycles / stats.cycles:6.1%} of hand-written  "
              f"{stats.percent_of_peak_bandwidth:5.1f}% of peak bandwidth; equals numpy: yes")


def run_demo(output_dir: pathlib.Path) -> None:
    _tensorflow_model(output_dir)
    print()
    _hand_written_and_compiled(output_dir)


def _tensorflow_model(output_dir: pathlib.Path, batch: int = 512) -> None:
    from ember_tf import dlrm
    from ember_tf.compiler import CompileOptions
    from ember_tf.converter import Converter
    from ember_tf.tf_loader import tensorflow

    tf = tensorflow("the demo")
    logging.set_verbosity(logging.WARNING)   # tf.saved_model.save logs every step at INFO
    config = dlrm.DlrmConfig()
    model = dlrm.build(config)
    saved = output_dir / "dlrm_saved_model"
    tf.saved_model.save(model, str(saved))
    args, feeds = dlrm.batch(config, batch)
    expected = model(*args)["probability"].numpy()
    tables = len(config.one_hot_rows) + len(config.multi_hot_rows) + len(config.fixed_rows)
    print(f"[model] DLRM-like tf.Module: {tables} tables (dim {config.dim}, {config.table_bytes / 1e6:.0f} MB), "
          f"bottom and top MLPs; saved to {saved}")
    runs, cores = {}, {}
    for machine in ("tmu", "cpu", "gpu"):
        path = output_dir / f"dlrm_{machine}.daebin"
        start = time.perf_counter()
        # the batch doubles as the planner's sample inputs: it sizes every kernel (docs/PLANNER.md)
        converter = Converter.from_saved_model(saved, options=CompileOptions(target=machine), sample_inputs=feeds)
        size = converter.convert_to_file(path)
        seconds = time.perf_counter() - start
        if machine == "tmu":
            _print_offloaded(converter.reports[0], path, size, seconds)
        interpreter = Interpreter(model_path=path, machine=machine, mode="fast")
        out = interpreter.get_signature_runner()(**feeds)["probability"]
        if machine == "tmu":
            _print_plan(converter.reports[0], interpreter.last_stats)
        error = float(np.max(np.abs(out - expected)))
        stats = interpreter.last_stats
        units = "SMs" if machine == "gpu" else "cores"
        print(f"[{machine}] batch {batch} on {interpreter.machine.cores} {units}: {stats.cycles:,} cycles = "
              f"{stats.seconds * 1e6:.1f} us "
              f"(embedding kernels {_kernel_span(stats):,}, host segments {stats.host_cycles:,}); "
              f"kernels moved {sum(k.dram_bytes for k in stats.kernels):,} DRAM bytes; "
              f"equals TensorFlow: {'yes' if error <= 1e-5 else 'NO'} (max |difference| {error:.1e})")
        if error > 1e-5:
            raise EmberError(f"{path}: the converted model's output differs from TensorFlow's")
        runs[machine] = stats
        cores[machine] = interpreter.machine.cores
    tmu, cpu, gpu = runs["tmu"], runs["cpu"], runs["gpu"]
    print(f"[model] tmu vs cpu, {cores['tmu']} and {cores['cpu']} cores, the same memory: embedding kernels "
          f"{_kernel_span(cpu) / _kernel_span(tmu):.1f}x faster, whole model {cpu.cycles / tmu.cycles:.1f}x faster "
          f"(docs/EMULATOR.md derives ~3x for memory-bound lookups from the machine files)")
    kernel_us = {m: _kernel_span(s) / s.clock_ghz / 1e3 for m, s in runs.items()}
    print(f"[model] tmu vs gpu (an H100-class GPU: {cores['gpu']} SMs, 3.35 TB/s HBM3 against 204.8 GB/s DDR5): "
          f"embedding kernels {kernel_us['tmu']:.1f} us vs {kernel_us['gpu']:.1f} us, whole model "
          f"{tmu.seconds * 1e6:.1f} us vs {gpu.seconds * 1e6:.1f} us; the gpu pays a kernel launch per "
          f"operation (docs/EMULATOR.md)")


def _kernel_span(stats) -> int:
    """Cycles from the first kernel's start to the last one's end (kernels may overlap)."""
    if not stats.kernels:
        return 0
    return max(k.start_cycle + k.cycles for k in stats.kernels) - min(k.start_cycle for k in stats.kernels)


def _print_plan(report, stats) -> None:
    """The planner's decision per table, its estimate and the emulated cycles of its kernel."""
    for entry, kernel in zip(report.offloaded, stats.kernels):
        if entry.estimate is None:
            print(f"[plan] {entry.kernel}: not planned ({entry.note})")
            continue
        cores = (f"core {entry.core_offset}" if entry.core_count == 1 else
                 f"cores {entry.core_offset}..{entry.core_offset + entry.core_count - 1}")
        print(f"[plan] {', '.join(entry.tables) or entry.kernel}: {entry.strategy} on {cores}, "
              f"estimated {entry.estimate:,.0f} cycles; its kernel emulated {kernel.cycles:,}")


def _print_offloaded(report, path: pathlib.Path, size: int, seconds: float) -> None:
    families: dict[str, int] = {}
    for entry in report.offloaded:
        families[entry.family] = families.get(entry.family, 0) + 1
    host_ops: dict[str, int] = {}
    for segment in report.host_segments:
        for op, n in segment.ops.items():
            host_ops[op] = host_ops.get(op, 0) + n
    main_ops = ", ".join(f"{op} x{host_ops[op]}" for op in ("MatMul", "Relu", "Sigmoid", "SparseFillEmptyRows")
                         if op in host_ops)
    print(f"[convert] {path} ({size / 1e6:.1f} MB) in {seconds:.1f} s: offloaded "
          f"{', '.join(f'{f} x{n}' for f, n in families.items())}; left to TensorFlow in "
          f"{len(report.host_segments)} host segments: {main_ops}, ... ({len(report.not_offloaded)} embedding ops "
          f"not offloaded; `ember-tf inspect {path}` lists everything)")


def _hand_written_and_compiled(output_dir: pathlib.Path, rows: int = 100_000, dim: int = 64, batch: int = 256,
                               pooling: int = 32) -> None:
    rng = np.random.default_rng(0)
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    lengths = rng.integers(0, 2 * pooling + 1, size=batch)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    indices = rng.integers(0, rows, size=int(offsets[-1])).astype(np.int32)
    feeds = {"table": table, "indices": indices, "offsets": offsets}
    expected = _reference(table, indices, offsets)
    print(f"Embedding bag (sum) over a {rows:,} x {dim} f32 table: {batch} bags, {len(indices):,} lookups")

    results = {}
    for machine, stem in (("tmu", "eb_sum"), ("cpu", "eb_sum_cpu")):
        source = KERNELS / f"{stem}.dasm"
        if not source.exists():
            raise EmberError(f"{source}: the demo kernel is missing (run the demo from a source checkout)")
        path = output_dir / f"demo_{machine}.daebin"
        size = dae_isa.write_model(dae_isa.assemble(source.read_text(), str(source)), path)
        model = dae_isa.read_model(path)
        same = dae_isa.serialize_model(dae_isa.assemble(dae_isa.disassemble(model))) == path.read_bytes()
        print(f"\n[{machine}] {source.name}: assembled, wrote {path} ({size:,} bytes), read back and verified; "
              f"disassembly re-assembles to the same bytes: {'yes' if same else 'NO'}")
        interpreter = Interpreter(model_path=path, machine=machine, mode="fast")
        start = time.perf_counter()
        out = interpreter.get_signature_runner()(**feeds)["out"]
        seconds = time.perf_counter() - start
        stats = interpreter.last_stats
        matches = np.allclose(out, expected, rtol=1e-5, atol=1e-5)
        print(f"[{machine}] emulated in {seconds:.2f} s: {stats.cycles:,} cycles = {stats.seconds * 1e6:.1f} us at "
              f"{stats.clock_ghz} GHz, {stats.dram_bytes:,} DRAM bytes, {stats.achieved_bandwidth_gbps:.1f} GB/s "
              f"({stats.percent_of_peak_bandwidth:.1f}% of peak); equals numpy: {'yes' if matches else 'NO'}")
        if not (same and matches):
            raise EmberError(f"{path}: the demo's checks failed")
        results[machine] = stats.cycles
    print(f"\nOn one core each, the DAE machine (tmu) runs this embedding bag {results['cpu'] / results['tmu']:.1f}x "
          f"faster than the same core without an access unit (cpu).")
    _compiled(output_dir, feeds, expected, dim, results["tmu"])
    print("Inspect the programs with: ember-tf inspect --disasm " + str(output_dir / "demo_tmu.daebin"))
