"""Scalar floating point on f registers, each result rounded to the dtype."""

import numpy as np

from ember_tf.dae_isa import dtypes
from ember_tf.emulator.ops import handler


def _f(core, r, np_dtype):
    return np.asarray(core.f[r], dtype=np_dtype)[()]


@handler("lf")
def lf(core, fd, dtype, k):
    core.f[fd] = np.asarray(core.program.float_constants[k], dtype=dtypes.numpy_dtype(dtype))[()]


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
            core.f[fd] = np.asarray(fn(_f(core, fa, t), _f(core, fb, t)), dtype=t)[()]

    return run


for _name in _BINARY:
    _binary(_name)


@handler("fsqrt")
def fsqrt(core, fd, fa, dtype):
    t = dtypes.numpy_dtype(dtype)
    with np.errstate(all="ignore"):
        core.f[fd] = np.asarray(np.sqrt(_f(core, fa, t)), dtype=t)[()]


@handler("fcvt")
def fcvt(core, fd, ra, dtype):
    core.f[fd] = np.asarray(core.x[ra], dtype=dtypes.numpy_dtype(dtype))[()]
