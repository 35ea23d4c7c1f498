"""The hand-written reference kernels in kernels/ for gather, segment sum
(message passing) and CSR SpMM: each in a tmu version (access unit gathers)
and a cpu version (core loads rows itself), run through the binary
(assemble -> serialize -> Interpreter(model_content=...)) against numpy.

These kernels are the yardstick the compiler must reach, so besides being
right they must beat the CPU baseline where a DAE machine should: tables
that do not sit in L1."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "kernels"
MACHINES = ("tmu", "cpu")
FILES = {
    "gather": {"tmu": "gather.dasm", "cpu": "gather_cpu.dasm"},
    "gather_input": {"tmu": "gather_input.dasm", "cpu": "gather_input_cpu.dasm"},
    "segment_sum": {"tmu": "segment_sum.dasm", "cpu": "segment_sum_cpu.dasm"},
    "spmm_csr": {"tmu": "spmm_csr.dasm", "cpu": "spmm_csr_cpu.dasm"},
}
DIMS = (16, 20, 37)            # D: one vector, a tail chunk, three chunks with a tail
MORE_DIMS = (64, 100)          # a full 64-column block; a full block and a tail block
GATHER_TABLE = np.arange(60, dtype=np.float32).reshape(3, 20)  # the constant in kernels/gather.dasm


@pytest.fixture(scope="module")
def model_bytes():
    """Assembled and serialized models, built once per module."""
    cache: dict[tuple[str, str], bytes] = {}

    def get(kernel: str, machine: str) -> bytes:
        if (kernel, machine) not in cache:
            path = KERNELS / FILES[kernel][machine]
            cache[kernel, machine] = dae_isa.serialize_model(dae_isa.assemble(path.read_text(), str(path)))
        return cache[kernel, machine]

    return get


def run(model_bytes, kernel: str, machine: str, **inputs) -> tuple[np.ndarray, int]:
    interpreter = Interpreter(model_content=model_bytes(kernel, machine), machine=machine)
    out = interpreter.get_signature_runner("serving_default")(**inputs)["out"]
    return out, interpreter.last_stats.cycles


# -- numpy references (float32, in the kernels' summation order) ---------------------------------
def segment_sum_ref(features, src, dst):
    out = np.zeros_like(features)
    np.add.at(out, dst, features[src])  # unbuffered: edge order, float32
    return out


def spmm_ref(row_splits, col, val, dense):
    out = np.zeros((len(row_splits) - 1, dense.shape[1]), np.float32)
    rows = np.repeat(np.arange(len(row_splits) - 1), np.diff(row_splits))
    np.add.at(out, rows, val[:, None] * dense[col])  # nonzero order, float32
    return out


def graph(rng, nodes: int, edges: int, isolated: int):
    """Edges with repeated src/dst; the last `isolated` nodes receive no edge."""
    src = rng.integers(0, nodes, edges).astype(np.int32)
    dst = rng.integers(0, nodes - isolated, edges).astype(np.int32)
    dst[: edges // 4] = dst[0]  # a popular destination
    return src, dst


def csr(rng, rows: int, k: int, max_degree: int):
    """Row splits with empty rows (the first and the last among them) and repeated columns."""
    degree = rng.integers(0, max_degree + 1, rows)
    if rows:
        degree[0] = degree[-1] = 0
        degree[rows // 2] = 0
    row_splits = np.concatenate([[0], np.cumsum(degree)]).astype(np.int32)
    nnz = int(row_splits[-1])
    col = rng.integers(0, k, nnz).astype(np.int32)
    col[: nnz // 4] = col[0] if nnz else 0
    return row_splits, col, rng.standard_normal(nnz).astype(np.float32)


# -- the kernels' files --------------------------------------------------------------------------
@pytest.mark.parametrize("kernel", sorted(FILES))
def test_cpu_version_is_the_tmu_machine_without_access_unit(kernel, model_bytes):
    tmu, cpu = (dae_isa.model_from_buffer(model_bytes(kernel, m)).kernels[0] for m in MACHINES)
    assert tmu.machine.hasAccessUnit and len(tmu.accessCode)
    assert not cpu.machine.hasAccessUnit and (cpu.accessCode is None or not len(cpu.accessCode))
    fields = ("lanes", "traversalGroups", "laneStorageBytes", "outstandingRequests", "vectorBytes", "queueChunkBytes")
    assert [getattr(tmu.machine, f) for f in fields] == [getattr(cpu.machine, f) for f in fields]
    assert (tmu.machine.name, cpu.machine.name) == ("tmu", "cpu")


# -- gather --------------------------------------------------------------------------------------
@pytest.mark.parametrize("machine", MACHINES)
def test_gather_constant_table_is_bitwise(machine, model_bytes):
    ids = np.random.default_rng(1).integers(0, 3, 57).astype(np.int32)
    out, _ = run(model_bytes, "gather", machine, ids=ids)
    assert out.dtype == np.float32 and np.array_equal(out, GATHER_TABLE[ids])
    out, _ = run(model_bytes, "gather", machine, ids=np.zeros(0, np.int32))
    assert out.shape == (0, 20)


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("dim", DIMS + MORE_DIMS)
def test_gather_input_is_bitwise(machine, dim, model_bytes):
    rng = np.random.default_rng(dim)
    table = rng.standard_normal((23, dim)).astype(np.float32)
    table[3] = np.resize(np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45], np.float32), dim)  # odd bit patterns
    ids = rng.integers(0, 23, 41).astype(np.int32)
    ids[:5] = 3
    ids[-1] = 22
    out, _ = run(model_bytes, "gather_input", machine, ids=ids, table=table)
    assert out.dtype == np.float32 and out.shape == (41, dim)
    assert out.tobytes() == table[ids].tobytes()


@pytest.mark.parametrize("machine", MACHINES)
def test_gather_input_empty_ids_and_one_row_table(machine, model_bytes):
    table = np.full((1, 20), 7.0, np.float32)
    out, _ = run(model_bytes, "gather_input", machine, ids=np.zeros(0, np.int32), table=table)
    assert out.shape == (0, 20)
    out, _ = run(model_bytes, "gather_input", machine, ids=np.zeros(3, np.int32), table=table)
    assert np.array_equal(out, np.full((3, 20), 7.0, np.float32))


# -- segment sum ---------------------------------------------------------------------------------
@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("dim", DIMS + MORE_DIMS)
def test_segment_sum(machine, dim, model_bytes):
    rng = np.random.default_rng(100 + dim)
    features = rng.standard_normal((19, dim)).astype(np.float32)
    src, dst = graph(rng, 19, 53, isolated=4)
    out, _ = run(model_bytes, "segment_sum", machine, features=features, src=src, dst=dst)
    expected = segment_sum_ref(features, src, dst)
    assert out.shape == (19, dim)
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    assert not out[15:].any()  # isolated nodes stay zero


@pytest.mark.parametrize("machine", MACHINES)
def test_segment_sum_without_edges_is_zero(machine, model_bytes):
    features = np.ones((5, 37), np.float32)
    empty = np.zeros(0, np.int32)
    out, _ = run(model_bytes, "segment_sum", machine, features=features, src=empty, dst=empty)
    assert out.shape == (5, 37) and not out.any()


# -- CSR SpMM ------------------------------------------------------------------------------------
@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("dim", DIMS + MORE_DIMS)
def test_spmm_csr(machine, dim, model_bytes):
    rng = np.random.default_rng(200 + dim)
    row_splits, col, val = csr(rng, 21, 17, max_degree=5)
    dense = rng.standard_normal((17, dim)).astype(np.float32)
    out, _ = run(model_bytes, "spmm_csr", machine, row_splits=row_splits, col=col, val=val, dense=dense)
    assert out.shape == (21, dim)
    np.testing.assert_allclose(out, spmm_ref(row_splits, col, val, dense), rtol=1e-6, atol=1e-6)
    empty = np.diff(row_splits) == 0
    assert empty[0] and empty[-1] and not out[empty].any()


@pytest.mark.parametrize("machine", MACHINES)
def test_spmm_csr_without_nonzeros(machine, model_bytes):
    dense = np.ones((4, 20), np.float32)
    nothing, fnothing = np.zeros(0, np.int32), np.zeros(0, np.float32)
    out, _ = run(model_bytes, "spmm_csr", machine, row_splits=np.zeros(4, np.int32), col=nothing, val=fnothing,
                 dense=dense)
    assert out.shape == (3, 20) and not out.any()
    out, _ = run(model_bytes, "spmm_csr", machine, row_splits=np.zeros(1, np.int32), col=nothing, val=fnothing,
                 dense=dense)
    assert out.shape == (0, 20)


# -- tmu vs cpu at a medium size -----------------------------------------------------------------
def medium_case(kernel: str):
    rng = np.random.default_rng(7)
    dim = 64
    if kernel == "gather":  # the constant 3 x 20 table of kernels/gather.dasm
        ids = rng.integers(0, 3, 500).astype(np.int32)
        return {"ids": ids}, GATHER_TABLE[ids]
    if kernel == "gather_input":
        table = rng.standard_normal((20000, dim)).astype(np.float32)
        ids = rng.integers(0, 20000, 500).astype(np.int32)
        return {"ids": ids, "table": table}, table[ids]
    if kernel == "segment_sum":
        features = rng.standard_normal((500, dim)).astype(np.float32)
        src, dst = graph(rng, 500, 500, isolated=50)
        return {"features": features, "src": src, "dst": dst}, segment_sum_ref(features, src, dst)
    row_splits, col, val = csr(rng, 125, 5000, max_degree=7)
    dense = rng.standard_normal((5000, dim)).astype(np.float32)
    inputs = {"row_splits": row_splits, "col": col, "val": val, "dense": dense}
    return inputs, spmm_ref(row_splits, col, val, dense)


@pytest.mark.parametrize("kernel", ["gather_input", "segment_sum", "spmm_csr"])
def test_tmu_beats_cpu_at_medium_size(kernel, model_bytes):
    inputs, expected = medium_case(kernel)
    cycles = {}
    for machine in MACHINES:
        out, cycles[machine] = run(model_bytes, kernel, machine, **inputs)
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
    print(f"{kernel}: tmu {cycles['tmu']} cycles, cpu {cycles['cpu']} cycles, "
          f"tmu/cpu = {cycles['tmu'] / cycles['cpu']:.3f}")
    assert cycles["tmu"] < cycles["cpu"]


def test_gather_constant_table_ratio(model_bytes):
    """kernels/gather.dasm is the simple worked example of docs/ISA.md, and its
    3-row table sits in L1, where an access unit has nothing to hide: only
    the ratio is reported."""
    inputs, expected = medium_case("gather")
    cycles = {}
    for machine in MACHINES:
        out, cycles[machine] = run(model_bytes, "gather", machine, **inputs)
        assert np.array_equal(out, expected)
    print(f"gather (constant 3 x 20 table): tmu {cycles['tmu']} cycles, cpu {cycles['cpu']} cycles, "
          f"tmu/cpu = {cycles['tmu'] / cycles['cpu']:.3f}")


# -- out-of-range ids fault ----------------------------------------------------------------------
# On tmu the access unit's bounds check names the input the id came from; on cpu the
# core's check names the slot it indexed (the core cannot know where an index came from).
FAULTS = [
    ("gather", {"ids": np.array([0, 3], np.int32)}, {"tmu": "input 'ids'", "cpu": "slot 'table'"}),
    ("gather_input", {"ids": np.array([1, -1], np.int32), "table": np.ones((4, 20), np.float32)},
     {"tmu": "input 'ids'", "cpu": "slot 'table'"}),
    ("segment_sum", {"features": np.ones((4, 20), np.float32), "src": np.array([0, 4], np.int32),
                     "dst": np.array([1, 2], np.int32)}, {"tmu": "input 'src'", "cpu": "slot 'features'"}),
    ("segment_sum", {"features": np.ones((4, 20), np.float32), "src": np.array([0, 1], np.int32),
                     "dst": np.array([1, 4], np.int32)}, {"tmu": "slot 'out'", "cpu": "slot 'out'"}),
    ("segment_sum", {"features": np.ones((4, 20), np.float32), "src": np.array([0, 1], np.int32),
                     "dst": np.array([-1, 0], np.int32)}, {"tmu": "slot 'out'", "cpu": "slot 'out'"}),
    ("spmm_csr", {"row_splits": np.array([0, 1, 2], np.int32), "col": np.array([0, 9], np.int32),
                  "val": np.ones(2, np.float32), "dense": np.ones((4, 20), np.float32)},
     {"tmu": "input 'col'", "cpu": "slot 'dense'"}),
]


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("kernel, inputs, names", FAULTS,
                         ids=["gather-ids", "gather_input-ids", "segment_sum-src", "segment_sum-dst",
                              "segment_sum-negative-dst", "spmm_csr-col"])
def test_out_of_range_id_faults(machine, kernel, inputs, names, model_bytes):
    with pytest.raises(EmberError, match=names[machine]):
        run(model_bytes, kernel, machine, **inputs)
