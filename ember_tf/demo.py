"""`ember-tf demo`: the built-in demonstration of what works today.

It assembles the hand-written embedding-bag kernel (kernels/eb_sum.dasm) and
its CPU-baseline twin, writes and re-reads them as verified .daebin files,
emulates both on a DLRM-sized lookup, checks the outputs against numpy, and
reports cycles, bandwidth and the DAE-versus-CPU speedup. Then it compiles the
same embedding bag with the compiler at O0..O3 and reports each level against
the hand-written kernel. (It will grow into converting a TensorFlow model once
the SavedModel frontend exists.)
"""

from __future__ import annotations

import pathlib
import time

import numpy as np

from ember_tf import dae_isa
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
        path.write_bytes(content)
        interpreter = Interpreter(model_path=path, machine="tmu", mode="fast")
        out = interpreter.get_signature_runner()(**feeds)["out"]
        if not np.allclose(out, expected, rtol=1e-5, atol=1e-5):
            raise EmberError(f"{path}: the compiled kernel's output differs from numpy")
        stats = interpreter.last_stats
        print(f"[compiler] {label:14} {stats.cycles:>10,} cycles  {hand_cycles / stats.cycles:6.1%} of hand-written  "
              f"{stats.percent_of_peak_bandwidth:5.1f}% of peak bandwidth; equals numpy: yes")


def run_demo(output_dir: pathlib.Path, rows: int = 100_000, dim: int = 64, batch: int = 256,
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
    print(f"\nThe DAE machine (tmu) runs this embedding bag {results['cpu'] / results['tmu']:.1f}x faster than the "
          f"same core without an access unit (cpu).")
    _compiled(output_dir, feeds, expected, dim, results["tmu"])
    print("Inspect the programs with: ember-tf inspect --disasm " + str(output_dir / "demo_tmu.daebin"))
