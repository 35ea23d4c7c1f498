"""Scalar floating point on f registers, each result rounded to the dtype.

Operands are converted to the dtype first and results rounded to it by rounding.py's
rule (convert, compute)."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler
from ember_tf.emulator.rounding import compute, convert


def _f(core, r, np_dtype):
    return convert(core.f[r], np_dtype)[()]


@handler("lf")
def lf(core, fd, dtype, k):
    core.f[fd] = convert(core.program.float_constants[k], dtypes.numpy_dtype(dtype))[()]


@handler("fmov")
def fmov(core, fd, fa):
    core.f[fd] = core.f[fa]


_BINARY = {
    "fadd": np.add, "fsub": np.subtract, "fmul": np.multiply, "fdiv": np.divide,
    "fmax": np.maximum, "fmin": np.minimum,
}


def _binary(name):
    fn = _BINARY[name]

    @handler(name)
    def run(core, fd, fa, fb, dtype):
        t = dtypes.numpy_dtype(dtype)
        with np.errstate(all="ignore"):
            core.f[fd] = compute(fn, t, _f(core, fa, t), _f(core, fb, t))[()]

    return run


for _name in _BINARY:
    _binary(_name)


@handler("fsqrt")
def fsqrt(core, fd, fa, dtype):
    t = dtypes.numpy_dtype(dtype)
    with np.errstate(all="ignore"):
        core.f[fd] = compute(np.sqrt, t, _f(core, fa, t))[()]


@handler("fcvt")
def fcvt(core, fd, ra, dtype):
    core.f[fd] = convert(np.int64(core.x[ra]), dtypes.numpy_dtype(dtype))[()]
