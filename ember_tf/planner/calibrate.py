"""A compiled kernel's instruction costs, measured: the kernel compiled for one core with a
strategy's placement, emulated on three tiny inputs (a 64-row table, resident in the
scratchpad when the machine has one, so no load waits on DRAM), and `fixed + per_bag *
bags + per_id * ids` fitted to the core's busy cycles and the access unit's. Cached per
kernel shape."""

from __future__ import annotations

import numpy as np

from ember_tf import dae_isa
from ember_tf.dae_isa import dtypes
from ember_tf.compiler import CompileOptions, kernel_model_text
from ember_tf.ir.core import Func
from ember_tf.ir.printer import print_func
from ember_tf.machines import load_machine
from ember_tf.planner.cost import CALIBRATION_ROWS, CALIBRATION_SIZES, UnitCosts

# embedding_ops argument names -> how a tiny input of `bags` bags of `per_bag` ids fills them
_IDS = ("ids", "indices", "src", "col")
_SPLITS = ("offsets", "row_splits")
_VALUES = ("weights", "val")


class NotCalibratable(Exception):
    """The kernel's arguments are not ones the planner knows how to fill."""


_MEASURED: dict[tuple, UnitCosts] = {}


def unit_costs(func: Func, options: CompileOptions, strategy: str) -> UnitCosts:
    key = (print_func(func), options.target, options.opt_level, strategy == "l1_ub")
    if key not in _MEASURED:
        _MEASURED[key] = _measure(func, options.target, options.opt_level, strategy)
    return _MEASURED[key]


def _measure(func: Func, target: str, opt_level: int, strategy: str) -> UnitCosts:
    from ember_tf.emulator import Interpreter

    machine = load_machine(target)
    table = func.arg_names[0]
    place = "scratchpad" if machine.scratchpad_bytes else None
    options = CompileOptions(target=target, opt_level=opt_level, cores=1,
                             placements=((table, place),) if place else (), access_unit=strategy != "l1_ub")
    model = dae_isa.serialize_model(dae_isa.assemble(kernel_model_text(func, options), f"<calibrating {func.name}>"))
    rows, core, access = [], [], []
    for bags, per_bag in CALIBRATION_SIZES:
        per_bag = _static_pooling(func) or per_bag
        interpreter = Interpreter(model_content=model, machine=machine)
        interpreter.get_signature_runner()(**_feeds(func, bags, per_bag))
        timings = interpreter.last_stats.kernels[0].timings
        rows.append((1.0, bags, bags * per_bag))
        core.append(sum(t.core_busy for t in timings))
        access.append(sum(t.au_busy for t in timings))
    a = np.array(rows)
    # least squares: with a static pooling, ids = L * bags and only the sum of the two is known
    fit = [tuple(float(c) for c in np.linalg.lstsq(a, np.array(y), rcond=None)[0]) for y in (core, access)]
    return UnitCosts(*fit)


def _static_pooling(func: Func) -> int | None:
    """A pooled bag's ids per bag when its ids are [bags, L] with L static."""
    for name, arg in zip(func.arg_names, func.args):
        if name in _IDS and arg.type.rank == 2 and arg.type.shape[1] is not None:
            return int(arg.type.shape[1])
    return None


def _feeds(func: Func, bags: int, per_bag: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    ids = bags * per_bag
    feeds = {}
    for i, (name, arg) in enumerate(zip(func.arg_names, func.args)):
        if i in func.outputs:
            continue
        t = arg.type
        dtype = _numpy(t.dtype)
        if i == 0:
            feeds[name] = rng.standard_normal((CALIBRATION_ROWS, t.shape[1])).astype(dtype)
        elif name in _IDS:
            shape = (bags, per_bag) if t.rank == 2 else (ids,)
            feeds[name] = rng.integers(0, CALIBRATION_ROWS, shape).astype(dtype)
        elif name in _SPLITS:
            feeds[name] = np.arange(0, ids + 1, per_bag).astype(dtype)
        elif name in _VALUES:
            feeds[name] = np.ones((bags, per_bag) if t.rank == 2 else (ids,), dtype)
        elif name == "dst":
            feeds[name] = np.repeat(np.arange(bags), per_bag).astype(dtype)
        elif name == "num_segments":
            feeds[name] = np.array([bags], dtype)
        else:
            raise NotCalibratable(f"kernel {func.name}: argument {name!r}")
    return feeds


def _numpy(dtype: str) -> np.dtype:
    return dtypes.numpy_dtype(dtypes.BY_SUFFIX[dtype].code)
