"""Small helpers the passes share."""

from __future__ import annotations

from ember_tf.ir.core import INDEX, FloatType, Func, Operation, Value


def constant(func: Func, value: int | float, dtype: str = "index") -> Value:
    """The function-level constant `value`, created at the top if missing."""
    for op in func.body.ops:
        if op.name == "arith.constant" and op.attrs["value"] == value and type(op.attrs["value"]) is type(value) \
                and str(op.result.type) == ("index" if dtype == "index" else dtype):
            return op.result
    hint = f"c{value}".replace("-", "m").replace(".", "_")
    op = Operation("arith.constant", [], [Value(INDEX if dtype == "index" else FloatType(dtype), hint)],
                   {"value": value})
    func.body.ops.insert(0, op)
    op.parent = func.body
    return op.result


def unique_var_name(func: Func, base: str) -> str:
    """`base`, or `base_N`, whichever no variable of `func` is called yet."""
    taken = {op.attrs["name"] for op in func.body.ops if op.name == "var.decl"}
    name, n = base, 0
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    return name
