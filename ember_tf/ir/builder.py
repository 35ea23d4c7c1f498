"""Build kernels in the structured-loop (scf) form the passes start from: loops,
loads, stores and arithmetic, as a frontend or a test writes them."""

from __future__ import annotations

import contextlib
from typing import Iterator

from ember_tf.ir.core import (
    INDEX, Block, FloatType, Func, Operation, SizeOf, TensorType, Type, Value, element_type,
)
from ember_tf.ir.ops import names

INT_BINARY = names("int binary")        # addi, subi, ... (the table's arith ops on indices)
FLOAT_BINARY = names("float binary")    # addf, subf, ..., div_no_nan


class Builder:
    """Appends operations to the current block; `loop()` opens a nested one."""

    def __init__(self, name: str):
        self.func = Func(name, [], [], [])
        self._blocks: list[Block] = [self.func.body]
        self._constants: dict[tuple, Value] = {}

    # ---- arguments --------------------------------------------------------
    def input(self, name: str, dtype: str, shape: tuple[int | None, ...]) -> Value:
        return self._arg(name, TensorType(dtype, tuple(shape)))

    def output(self, name: str, dtype: str, shape: tuple) -> Value:
        """`shape` entries: an int, (input tensor, axis, add) for a run-time dim, or
        (input tensor, "element", index, add) for the value of an input's element."""
        static = tuple(d if isinstance(d, int) else None for d in shape)
        dim_of = tuple(None if isinstance(d, int) else self._size_of(d) for d in shape)
        value = self._arg(name, TensorType(dtype, static, dim_of))
        self.func.outputs.append(len(self.func.args) - 1)
        return value

    def _size_of(self, spec: tuple) -> SizeOf:
        arg = self.func.arg_index(spec[0])
        if spec[1] == "element":
            return SizeOf(arg, element=spec[2], add=spec[3])
        return SizeOf(arg, axis=spec[1], add=spec[2])

    def _arg(self, name: str, type: TensorType) -> Value:
        if name in self.func.arg_names:
            raise ValueError(f"duplicate argument name {name!r}")
        value = Value(type, name)
        self.func.args.append(value)
        self.func.arg_names.append(name)
        return value

    # ---- operations -------------------------------------------------------
    def emit(self, op_name: str, operands: list[Value], result_types: list[Type], hint: str = "", **attrs) -> Operation:
        op = Operation(op_name, list(operands), [Value(t, hint) for t in result_types], attrs)
        op.parent = self._blocks[-1]
        self._blocks[-1].ops.append(op)
        return op

    def const(self, value: int | float, dtype: str = "index") -> Value:
        """Constants are emitted once, at the function's top (they are immediates)."""
        key = (value, dtype)
        if key not in self._constants:
            type = INDEX if dtype == "index" else FloatType(dtype)
            op = Operation("arith.constant", [], [Value(type, f"c{value}".replace("-", "m").replace(".", "_"))],
                           {"value": value})
            op.parent = self.func.body
            self.func.body.ops.insert(len(self._constants), op)
            self._constants[key] = op.result
        return self._constants[key]

    def _int(self, v: Value | int) -> Value:
        return self.const(v) if isinstance(v, int) else v

    def dim(self, tensor: Value, axis: int) -> Value:
        """A dimension of a tensor argument: a constant when static."""
        size = tensor.type.shape[axis]
        if size is not None:
            return self.const(size)
        key = ("dim", tensor.uid, axis)
        if key not in self._constants:      # like constants: once, at the function's top
            op = Operation("tensor.dim", [tensor], [Value(INDEX, f"{tensor.hint}_d{axis}")], {"axis": axis})
            op.parent = self.func.body
            self.func.body.ops.insert(len(self._constants), op)
            self._constants[key] = op.result
        return self._constants[key]

    def binary(self, op: str, a: Value | int, b: Value | int, hint: str = "") -> Value:
        a, b = self._int(a), self._int(b)
        if op in INT_BINARY:
            return self.emit(f"arith.{op}", [a, b], [INDEX], hint).result
        if op not in FLOAT_BINARY:
            raise ValueError(f"unknown binary op {op}")
        return self.emit(f"arith.{op}", [a, b], [a.type], hint).result

    def sqrt(self, a: Value, hint: str = "") -> Value:
        return self.emit("arith.sqrtf", [a], [a.type], hint).result

    def to_float(self, a: Value, dtype: str, hint: str = "") -> Value:
        return self.emit("arith.itofp", [a], [FloatType(dtype)], hint).result

    def load(self, tensor: Value, *indices: Value | int, hint: str = "") -> Value:
        idx = [self._int(i) for i in indices]
        self._check_rank(tensor, idx)
        return self.emit("memref.load", [tensor, *idx], [element_type(tensor.type.dtype)], hint).result

    def store(self, value: Value, tensor: Value, *indices: Value | int) -> None:
        idx = [self._int(i) for i in indices]
        self._check_rank(tensor, idx)
        self.emit("memref.store", [value, tensor, *idx], [])

    @staticmethod
    def _check_rank(tensor: Value, idx: list[Value]) -> None:
        if len(idx) != tensor.type.rank:
            raise ValueError(f"{tensor.hint}: {len(idx)} indices for a rank-{tensor.type.rank} tensor")

    def var(self, name: str, init: int | float, dtype: str = "index") -> str:
        """A core-side variable (a register) that lives across callbacks."""
        self.emit("var.decl", [], [], name=name, type=INDEX if dtype == "index" else FloatType(dtype), init=init)
        return name

    def get(self, var: str) -> Value:
        decl = next(op for op in self.func.body.ops if op.name == "var.decl" and op.attrs["name"] == var)
        return self.emit("var.get", [], [decl.attrs["type"]], var, var=var).result

    def set(self, var: str, value: Value) -> None:
        self.emit("var.set", [value], [], var=var)

    @contextlib.contextmanager
    def loop(self, lb: Value | int, ub: Value | int, hint: str = "i") -> Iterator[Value]:
        """`for iv = lb; iv < ub; iv += 1` with the body built inside the `with`."""
        body = Block(args=[Value(INDEX, hint)])
        op = self.emit("scf.for", [self._int(lb), self._int(ub), self.const(1)], [])
        op.regions = [body]
        self._blocks.append(body)
        try:
            yield body.args[0]
        finally:
            self._blocks.pop()

    def finish(self) -> Func:
        return self.func


def accumulate(b: Builder, out: Value, indices: list[Value], value: Value) -> None:
    """out[indices] += value: the read-modify-write every reduction lowers to."""
    old = b.load(out, *indices, hint="acc")
    b.store(b.binary("addf", old, value, "sum"), out, *indices)

