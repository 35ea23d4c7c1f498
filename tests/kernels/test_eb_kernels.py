"""The hand-written embedding-bag reference kernels (kernels/eb_*.dasm).

Each kernel runs through the binary (assemble -> serialize -> Interpreter
with model_content) on its machine: `eb_<combiner>` on tmu (the access unit
gathers), `eb_<combiner>_cpu` on cpu (the core does everything). Results are
compared with a numpy reference with TensorFlow's semantics
(tf.nn.embedding_lookup_sparse: sum / mean / sqrtn, weighted mean and sqrtn
with div_no_nan, an empty bag gives zeros).
"""

from __future__ import annotations

import functools
import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError
from tests.tools import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"
COMBINERS = ["sum", "mean", "sqrtn", "weighted_sum", "weighted_mean", "weighted_sqrtn"]
MACHINES = ["tmu", "cpu"]
DIMS = [16, 20, 37, 64, 100, 130]   # 1, 2, 3, 4, 7 chunks (tail masks), and the generic D > 128 block


def kernel_name(combiner: str, machine: str) -> str:
    return f"eb_{combiner}" + ("_cpu" if machine == "cpu" else "")


@functools.lru_cache(maxsize=None)
def model_bytes(name: str) -> bytes:
    path = KERNELS / f"{name}.dasm"
    return dae_isa.serialize_model(dae_isa.assemble(path.read_text(encoding="utf-8"), str(path)))


@functools.lru_cache(maxsize=None)
def interpreter(name: str, machine: str) -> Interpreter:
    return Interpreter(model_content=model_bytes(name), machine=machine)


def run(combiner: str, machine: str, inputs: dict) -> tuple[np.ndarray, Interpreter]:
    it = interpreter(kernel_name(combiner, machine), machine)
    return it.get_signature_runner()(**inputs)["out"], it


# -- inputs and the reference ------------------------------------------------------

def make_inputs(seed: int, combiner: str, rows: int, dim: int, bags: int, pooling: int) -> dict:
    """A random CSR batch with empty bags (first, third, last), a bag with a
    repeated id and, when weighted, a bag whose weights are all zero and one
    whose weights sum to zero (div_no_nan)."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 2 * pooling, bags)
    for b in (0, 2, bags - 1):
        sizes[b] = 0
    sizes[1] = max(sizes[1], 3)
    sizes[3] = max(sizes[3], 2)
    sizes[4] = max(sizes[4], 2)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    indices = rng.integers(0, rows, int(offsets[-1])).astype(np.int32)
    indices[offsets[1] + 1] = indices[offsets[1]]            # a repeated id in bag 1
    inputs = {"table": rng.standard_normal((rows, dim)).astype(np.float32),
              "indices": indices, "offsets": offsets}
    if combiner.startswith("weighted"):
        weights = rng.uniform(0.25, 2.0, len(indices)).astype(np.float32)
        weights[offsets[3]:offsets[4]] = 0.0                  # bag 3: all weights zero
        weights[offsets[4]:offsets[4] + 2] = [0.75, -0.75]    # bag 4: weights summing to zero
        weights[offsets[4] + 2:offsets[5]] = 0.0
        inputs["weights"] = weights
    return inputs


def reference(combiner: str, table, indices, offsets, weights=None) -> np.ndarray:
    """Sequential float32 accumulation per bag, then one division."""
    weighted = combiner.startswith("weighted")
    kind = combiner.removeprefix("weighted_")
    out = np.zeros((len(offsets) - 1, table.shape[1]), np.float32)
    for b in range(len(offsets) - 1):
        acc = np.zeros(table.shape[1], np.float32)
        w_sum = w_sq = np.float32(0)
        for p in range(offsets[b], offsets[b + 1]):
            row = table[indices[p]]
            if weighted:
                w = weights[p]
                acc = acc + w * row
                w_sum = np.float32(w_sum + w)
                w_sq = np.float32(w_sq + np.float32(w * w))
            else:
                acc = acc + row
        n = np.float32(max(offsets[b + 1] - offsets[b], 0))
        if kind == "sum":
            out[b] = acc
        elif not weighted:
            divisor = n if kind == "mean" else np.sqrt(n)
            out[b] = acc / divisor if n else 0.0
        else:
            divisor = w_sum if kind == "mean" else np.sqrt(w_sq)
            out[b] = acc / divisor if divisor != 0 else 0.0     # div_no_nan
    return out


# -- tests -------------------------------------------------------------------------

@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("combiner", COMBINERS)
def test_matches_reference(combiner, machine, dim):
    inputs = make_inputs(seed=dim, combiner=combiner, rows=50, dim=dim, bags=9, pooling=4)
    got, _ = run(combiner, machine, inputs)
    want = reference(combiner, **inputs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    assert not got[[0, 2, -1]].any(), "empty bags must give zeros"
    if combiner in ("weighted_mean", "weighted_sqrtn"):
        assert not got[3].any(), "all-zero weights: div_no_nan gives zeros"
    if combiner == "weighted_mean":
        assert not got[4].any(), "weights summing to zero: div_no_nan gives zeros"


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("combiner", COMBINERS)
def test_no_bags(combiner, machine):
    inputs = {"table": np.ones((5, 20), np.float32), "indices": np.zeros(0, np.int32),
              "offsets": np.zeros(1, np.int32)}
    if combiner.startswith("weighted"):
        inputs["weights"] = np.zeros(0, np.float32)
    got, _ = run(combiner, machine, inputs)
    assert got.shape == (0, 20)


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("combiner", COMBINERS)
def test_out_of_range_index_faults(combiner, machine):
    inputs = make_inputs(seed=7, combiner=combiner, rows=50, dim=20, bags=9, pooling=4)
    for bad in (50, -1):
        broken = dict(inputs, indices=inputs["indices"].copy())
        broken["indices"][len(broken["indices"]) // 2] = bad
        with pytest.raises(EmberError, match="indices"):
            run(combiner, machine, broken)


@pytest.mark.parametrize("combiner", COMBINERS)
def test_tmu_beats_cpu(combiner):
    """A medium batch: 64 bags of ~20 ids into a 10000 x 64 table."""
    inputs = make_inputs(seed=1, combiner=combiner, rows=10_000, dim=64, bags=64, pooling=20)
    cycles = {}
    for machine in MACHINES:
        got, it = run(combiner, machine, inputs)
        np.testing.assert_allclose(got, reference(combiner, **inputs), rtol=1e-6, atol=1e-6)
        cycles[machine] = it.last_stats.cycles
    print(f"eb_{combiner}: tmu {cycles['tmu']} cycles, cpu {cycles['cpu']} cycles, "
          f"cpu/tmu = {cycles['cpu'] / cycles['tmu']:.2f}")
    assert cycles["tmu"] < cycles["cpu"]


def test_kernels_match_their_generator():
    """kernels/eb_*.dasm are written by tools/gen_eb_kernels.py; they must not drift."""
    gen = load_tool("gen_eb_kernels")
    for combiner in COMBINERS:
        weighted = combiner.startswith("weighted")
        for machine in MACHINES:
            kernel = gen.Kernel(combiner.removeprefix("weighted_"), weighted, machine == "cpu")
            path = KERNELS / f"{kernel.name}.dasm"
            assert path.read_text(encoding="utf-8") == kernel.text(), \
                f"{path.name} differs from tools/gen_eb_kernels.py; rerun it"
