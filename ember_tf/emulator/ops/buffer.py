"""Buffer registers: whole fibers delivered by the access unit (bufferization)."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler
from ember_tf.emulator.rounding import convert


@handler("blen")
def blen(core, rd, ba):
    core.set_x(rd, len(core.b[ba]))


@handler("bld")
def bld(core, vd, ba, ri, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    lanes = core.lanes(mask, t)
    buffer = core.b[ba]
    index = core.x[ri] + lanes
    if len(index) and (index.min() < 0 or index.max() >= len(buffer)):
        core.fault(f"bld reads element {int(index.max())} of a {len(buffer)}-element buffer")
    values = np.zeros(core.vl(t), dtype=t)
    values[lanes] = convert(buffer[index], t)
    core.v[vd] = values
