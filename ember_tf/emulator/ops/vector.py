"""Lane-wise vector arithmetic in the instruction's dtype (floats rounded by rounding.py's
rule), masks, reductions."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler
from ember_tf.emulator.rounding import compute, convert

_BINARY = {
    "vadd": np.add, "vsub": np.subtract, "vmul": np.multiply, "vdiv": np.divide,
    "vmax": np.maximum, "vmin": np.minimum,
}


def _binary(name):
    fn = _BINARY[name]

    @handler(name)
    def run(core, vd, va, vb, dtype):
        t = dtypes.numpy_dtype(dtype)
        if name == "vdiv" and t.kind in "iu":
            b = core.vector(vb, t)
            if (b == 0).any():
                core.fault("integer vector division by zero")
            a = core.vector(va, t)
            quotient = np.abs(a) // np.abs(b)  # truncate toward zero, as the scalar div does
            core.v[vd] = np.where((a < 0) != (b < 0), -quotient, quotient).astype(t)
            return
        with np.errstate(all="ignore"):
            core.v[vd] = compute(fn, t, core.vector(va, t), core.vector(vb, t))

    return run


for _name in _BINARY:
    _binary(_name)


@handler("vfma")
def vfma(core, vd, va, vb, dtype):
    t = dtypes.numpy_dtype(dtype)
    with np.errstate(all="ignore"):
        product = compute(np.multiply, t, core.vector(va, t), core.vector(vb, t))
        core.v[vd] = compute(np.add, t, core.vector(vd, t), product)


@handler("vscale")
def vscale(core, vd, va, fs, dtype):
    t = dtypes.numpy_dtype(dtype)
    with np.errstate(all="ignore"):
        core.v[vd] = compute(np.multiply, t, core.vector(va, t), convert(core.f[fs], t))


@handler("vsplat")
def vsplat(core, vd, fs, dtype):
    t = dtypes.numpy_dtype(dtype)
    core.v[vd] = np.full(core.vl(t), convert(core.f[fs], t)[()], dtype=t)


@handler("vmov")
def vmov(core, vd, va):
    core.v[vd] = core.v[va].copy()


@handler("vzero")
def vzero(core, vd, dtype):
    t = dtypes.numpy_dtype(dtype)
    core.v[vd] = np.zeros(core.vl(t), dtype=t)


@handler("vcvt")
def vcvt(core, vd, va, dtype):
    core.v[vd] = core.vector(va, dtypes.numpy_dtype(dtype))


@handler("vredsum")
def vredsum(core, fd, va, mask, dtype):
    t = dtypes.numpy_dtype(dtype)
    values = core.vector(va, t)[core.lanes(mask, t)]
    if not len(values):
        core.f[fd] = np.zeros((), t)[()]
    elif t.itemsize > 2:
        # Sequential lane order (np.cumsum), not numpy's pairwise sum: the result is specified bit for bit.
        core.f[fd] = np.cumsum(values, dtype=t)[-1]
    else:  # float16, bfloat16: each addition rounded by the rule, in lane order too
        total = values[0]
        with np.errstate(all="ignore"):
            for value in values[1:]:
                total = compute(np.add, t, total, value)[()]
        core.f[fd] = total


@handler("viota")
def viota(core, vd, ra, dtype):
    t = dtypes.numpy_dtype(dtype)
    core.v[vd] = (core.x[ra] + np.arange(core.vl(t))).astype(t)


@handler("mset")
def mset(core, md, ra):
    count = max(0, min(64, core.x[ra]))
    core.m[md] = (1 << count) - 1
