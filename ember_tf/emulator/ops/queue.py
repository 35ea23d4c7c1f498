"""Pops from the data queue; the operand's kind must match the instruction."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler
from ember_tf.emulator.rounding import convert


@handler("q.pop")
def q_pop(core, rd):
    core.set_x(rd, core.queues.pop_operand(core, "int").value)


@handler("q.popf")
def q_popf(core, fd, dtype):
    core.f[fd] = convert(core.queues.pop_operand(core, "float").value, dtypes.numpy_dtype(dtype))[()]


@handler("q.vpop")
def q_vpop(core, vd, md, dtype):
    operand = core.queues.pop_operand(core, "vector")
    np_dtype = dtypes.numpy_dtype(dtype)
    lanes = core.vl(np_dtype)
    values = np.zeros(lanes, dtype=np_dtype)
    count = min(lanes, len(operand.value))
    values[:count] = convert(operand.value[:count], np_dtype)
    core.v[vd] = values
    core.m[md] = operand.mask


@handler("q.bpop")
def q_bpop(core, bd):
    core.b[bd] = core.queues.pop_operand(core, "buffer").value
