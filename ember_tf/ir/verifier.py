"""Structural checks of a function at any level: values are defined before use
and visible where used, every operation is known and allowed at its level and
position, operand counts and types agree."""

from __future__ import annotations

from ember_tf.errors import CompileError
from ember_tf.ir.core import (
    BufferType, Block, FloatType, Func, IndexType, MaskType, Operation, StreamType, TensorType, VectorType,
)

CORE_OPS = {
    "arith.constant", "tensor.dim", "var.decl", "var.get", "var.set", "memref.load", "memref.store", "scf.for",
    "arith.addi", "arith.subi", "arith.muli", "arith.divi", "arith.remi", "arith.mini", "arith.maxi",
    "arith.addf", "arith.subf", "arith.mulf", "arith.divf", "arith.maxf", "arith.minf", "arith.div_no_nan",
    "arith.sqrtf", "arith.itofp", "vector.load", "vector.store", "vector.gather", "vector.scatter",
    "vector.broadcast", "vector.mask", "vector.iota", "vector.reduce_add", "buffer.load", "kernel.copy_index",
}
SLC_OPS = {"slc.for", "slc.mem_stream", "slc.alu_stream", "slc.buf_stream", "slc.callback", "slc.to_val"}
DLC_OPS = {"dlc.access", "dlc.compute", "dlc.case", "dlc.new_tu", "dlc.register_operand",
           "dlc.register_callback", "dlc.pop_operand"}
ARITY = {"memref.load": None, "arith.constant": 0, "tensor.dim": 1, "kernel.copy_index": 0, "var.get": 0, "var.set": 1,
         "arith.sqrtf": 1, "arith.itofp": 1, "vector.broadcast": 1, "vector.mask": 2, "vector.iota": 1,
         "vector.reduce_add": 2, "buffer.load": 3, "slc.alu_stream": 2, "slc.buf_stream": 1, "slc.to_val": 1}


def verify(func: Func) -> None:
    _Verifier(func).run()


class _Verifier:
    def __init__(self, func: Func):
        self.func = func
        self.vars: set[str] = set()

    def fail(self, op: Operation | None, problem: str) -> CompileError:
        where = f" ({op.name})" if op is not None else ""
        return CompileError(f"IR verification of {self.func.name} at level {self.func.level}{where}: {problem}")

    def run(self) -> None:
        for i in self.func.outputs:
            if not isinstance(self.func.args[i].type, TensorType):
                raise self.fail(None, "an output that is not a tensor")
        visible = {a.uid for a in self.func.args}
        self.block(self.func.body, visible, context="root")

    def block(self, block: Block, visible: set[int], context: str) -> None:
        visible = visible | {a.uid for a in block.args}
        for op in block.ops:
            self.op(op, visible, context)
            visible |= {r.uid for r in op.results}
            if op.name == "slc.for":     # a loop's buffers are read at its end event, after it
                visible |= {o.result.uid for o in op.body.ops if o.name == "slc.buf_stream"}

    def op(self, op: Operation, visible: set[int], context: str) -> None:
        allowed = CORE_OPS | (SLC_OPS if self.func.level in ("slc",) else set()) | \
            (DLC_OPS | {"slc.mem_stream", "slc.alu_stream", "slc.buf_stream"} if self.func.level == "dlc" else set())
        if op.name not in allowed:
            raise self.fail(op, f"not allowed at level {self.func.level}")
        for v in op.operands:
            if v.uid not in visible:
                raise self.fail(op, f"operand {v.hint or v.uid} is not defined before this use")
        expected = ARITY.get(op.name)
        if expected is not None and len(op.operands) != expected:
            raise self.fail(op, f"{len(op.operands)} operands, expected {expected}")
        getattr(self, "_" + op.name.replace(".", "_"), lambda op, context: None)(op, context)
        inner = {"slc.for": "access", "slc.callback": "callback", "dlc.case": "callback", "scf.for": context,
                 "dlc.access": "config", "dlc.compute": "compute"}.get(op.name, context)
        for region in op.regions:
            self.block(region, visible, inner)

    def _var_decl(self, op, context):
        # a core loop's body keeps its parent's context: look at the block itself
        if context != "root" or not any(o is op for o in self.func.body.ops):
            raise self.fail(op, "variables are declared at the function's top level")
        if op.attrs["name"] in self.vars:
            raise self.fail(op, f"variable {op.attrs['name']} declared twice")
        self.vars.add(op.attrs["name"])

    def _var_get(self, op, context):
        if op.attrs["var"] not in self.vars:
            raise self.fail(op, f"unknown variable {op.attrs['var']}")

    _var_set = _var_get

    def _memref_load(self, op, context):
        tensor, *index = op.operands
        if not isinstance(tensor.type, TensorType) or len(index) != tensor.type.rank:
            raise self.fail(op, "needs a tensor and one index per dimension")
        for v in index:
            if not isinstance(v.type, IndexType):
                raise self.fail(op, f"index {v.hint} is a {v.type}, not an index")

    def _memref_store(self, op, context):
        value, tensor, *index = op.operands
        self._memref_load(Operation(op.name, [tensor, *index]), context)
        if tensor.type.dtype != getattr(value.type, "dtype", "index") and not isinstance(value.type, IndexType):
            raise self.fail(op, f"stores a {value.type} into a {tensor.type.dtype} tensor")
        if self.func.args.index(tensor) not in self.func.outputs:
            raise self.fail(op, f"stores into {tensor.hint}, which is not an output")

    def _slc_for(self, op, context):
        if context not in ("root", "access"):
            raise self.fail(op, "an access loop inside a callback or a core loop")
        if not isinstance(op.body.args[0].type, StreamType):
            raise self.fail(op, "the induction variable of slc.for must be a stream")

    def _slc_callback(self, op, context):
        if context != "access":
            raise self.fail(op, "a callback outside an access loop")
        if op.attrs.get("event") not in ("ite", "end"):
            raise self.fail(op, "event must be ite or end")

    def _slc_to_val(self, op, context):
        if context != "callback":
            raise self.fail(op, "slc.to_val outside a callback")
        if not isinstance(op.operands[0].type, StreamType):
            raise self.fail(op, "slc.to_val of a value that is not a stream")

    def _slc_mem_stream(self, op, context):
        if self.func.level == "slc" and context != "access":
            raise self.fail(op, "a stream outside an access loop")
        if not isinstance(op.result.type, StreamType):
            raise self.fail(op, "the result of a stream op must be a stream")

    _slc_alu_stream = _slc_mem_stream

    def _slc_buf_stream(self, op, context):
        self._slc_mem_stream(op, context)
        if not isinstance(op.result.type.element, BufferType):
            raise self.fail(op, "slc.buf_stream yields buffers")

    def _vector_mask(self, op, context):
        if not isinstance(op.result.type, MaskType):
            raise self.fail(op, "vector.mask yields a mask")

    def _arith_itofp(self, op, context):
        if not isinstance(op.operands[0].type, IndexType) or not isinstance(op.result.type, FloatType):
            raise self.fail(op, "converts an index to a float")

    def _buffer_load(self, op, context):
        if not isinstance(op.operands[0].type, BufferType) or not isinstance(op.result.type, VectorType):
            raise self.fail(op, "reads a vector from a buffer")
