"""Element-indexed, bounds-checked loads and stores on kernel slots."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler


@handler("ld")
def ld(core, rd, slot, ri, dtype):
    core.set_x(rd, int(core.load(slot, core.x[ri])))


@handler("fld")
def fld(core, fd, slot, ri, dtype):
    core.f[fd] = core.load(slot, core.x[ri])


@handler("st", "fst")
def st(core, rs, slot, ri, dtype):
    value = core.x[rs] if core.program.slot_dtypes[slot].kind in "iub" else core.f[rs]
    core.store(slot, np.asarray([core.x[ri]]), np.asarray([value]))


@handler("vld")
def vld(core, vd, slot, ri, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    lanes = core.lanes(mask, t)
    values = np.zeros(core.vl(t), dtype=t)
    values[lanes] = core.load_many(slot, core.x[ri] + lanes)
    core.v[vd] = values


@handler("vst")
def vst(core, vs, slot, ri, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    lanes = core.lanes(mask, t)
    core.store(slot, core.x[ri] + lanes, core.vector(vs, t)[lanes])


@handler("vgather")
def vgather(core, vd, slot, vi, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    lanes = core.lanes(mask, t)
    index = core.vector(vi, np.dtype(np.int64), core.vl(t))
    values = np.zeros(core.vl(t), dtype=t)
    values[lanes] = core.load_many(slot, index[lanes])
    core.v[vd] = values


@handler("vscatter")
def vscatter(core, vs, slot, vi, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    lanes = core.lanes(mask, t)
    index = core.vector(vi, np.dtype(np.int64), core.vl(t))[lanes]
    values = core.vector(vs, t)[lanes]
    # Lanes store in increasing order, so of repeated indices the highest lane wins. numpy's
    # fancy assignment promises no order, so every lane stores its index's final value.
    final = {int(element): value for element, value in zip(index, values)}
    core.store(slot, index, np.array([final[int(element)] for element in index], dtype=t))
