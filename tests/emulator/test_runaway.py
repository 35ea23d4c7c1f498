"""A program that never finishes ends in both emulator modes within seconds, with a
one-line fault naming the limit, which follows the sizes of the kernel's tensors (not a
fixed 2^31 instructions)."""

from __future__ import annotations

import pathlib
import time

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.emulator.interpreter import step_budget
from ember_tf.errors import EmulationError

KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"
SECONDS = 5

# The access unit loops 2e9 times before its first callback; the core waits on it.
ACCESS_LOOPS = """
.model version=1 description="an access unit that does not finish"
.tensor 0 "ids" dtype=int32 shape=[1] signature=[-1]
.tensor 1 "out" dtype=int32 shape=[1] signature=[-1]
.kernel "spin" version=1
.machine "tmu" lanes=8 traversal_groups=4 lane_storage_bytes=2048 outstanding_requests=128 vector_bytes=64 queue_chunk_bytes=4096 access_unit=true
.slot ids int32 read rank=1
.slot out int32 write rank=1 shape=[p0]
.param p0 slot=ids dim=0 add=0
.const k0 2000000000
.jumptable jt0 done done
.access
  tu.dns t0, parent=none, width=1, lb=0, ub=k0
  str.ite s0, tu=t0
  mar.cb t0, event=end, id=1
  tu.group t0, layer=0, mode=single, lanes=1
.execute
         cb.pop x1
         br.tab x1, jt0
done:    halt
.end
.subgraph "main" inputs=[0] outputs=[1]
.operator kernel 0 inputs=[0] outputs=[1]
.signature "serving_default" subgraph=0
.input "ids" 0
.output "out" 1
"""


def _bags() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    return {"table": rng.standard_normal((30, 20)).astype(np.float32),
            "indices": rng.integers(0, 30, 17).astype(np.int32),
            "offsets": np.array([0, 3, 3, 9, 17], np.int32)}


def _warm(mode: str, feeds: dict) -> None:
    """Compiles the fast mode (on first use, tens of seconds) outside the timed run."""
    model = dae_isa.serialize_model(dae_isa.assemble((KERNELS / "eb_sum.dasm").read_text()))
    Interpreter(model_content=model, mode=mode).get_signature_runner()(**feeds)


def _fault(source: str, feeds: dict, mode: str) -> tuple[str, float]:
    model = dae_isa.serialize_model(dae_isa.assemble(source))
    runner = Interpreter(model_content=model, mode=mode).get_signature_runner()
    start = time.perf_counter()
    with pytest.raises(EmulationError) as error:
        runner(**feeds)
    return str(error.value), time.perf_counter() - start


@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_a_core_that_never_halts_ends_within_seconds(mode):
    source = (KERNELS / "eb_sum.dasm").read_text().replace("done:    halt", "done:    jmp done")
    feeds = _bags()
    _warm(mode, feeds)
    message, seconds = _fault(source, feeds, mode)
    out = np.zeros((4, 20), np.float32)
    limit = step_budget(list(feeds.values()) + [out], 1 << 31)
    assert message.startswith("kernel 'eb_sum' core 0 pc ")
    assert f"executed {limit} instructions without halting (the limit for inputs of these sizes)" in message
    assert limit < 1_000_000 and seconds < SECONDS


@pytest.mark.parametrize("mode", ["golden", "fast"])
def test_an_access_unit_that_never_finishes_ends_within_seconds(mode):
    feeds = {"ids": np.arange(5, dtype=np.int32)}
    _warm(mode, _bags())
    message, seconds = _fault(ACCESS_LOOPS, feeds, mode)
    limit = step_budget([feeds["ids"], feeds["ids"]], 1 << 31)
    assert message == (f"kernel 'spin': the access unit ran {limit} loop iterations without finishing "
                       "(the limit for inputs of these sizes)")
    assert seconds < SECONDS


def test_the_limit_grows_with_the_ids_and_rows_and_stops_at_the_cap():
    ids, table = np.zeros(1000, np.int32), np.zeros((10, 64), np.float32)
    assert step_budget([ids, table], 1 << 31) > 64 * 1000 * 64 > step_budget([ids[:10], table], 1 << 31)
    assert step_budget([ids, table], 5000) == 5000
