"""HLO_MODULE host segments: the residual of an HLO module (what the converter did
not turn into kernels), stored as HLO text, parsed once and run on numpy by the
HLO evaluator (ember_tf.hlo.evaluator). `input_names` name the segment's entry
parameters in order, `output_names` the elements of its result tuple.

Timing is the same matrix-unit roofline as GRAPH_DEF segments (emulator/host.py),
with FLOPs counted from the static shapes: 2 x output x contracted size for `dot`,
one per output element for elementwise arithmetic, one per input element for
`reduce`; data movement (gather, slice, reshape, broadcast, ...) costs nothing.
DRAM bytes are the segment's inputs, outputs and constants, each moved once."""

from __future__ import annotations

import math

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.emulator.host import Port, roofline
from ember_tf.machines import MachineConfig
from ember_tf.emulator.stats import HostStats
from ember_tf.errors import EmberError, EmulationError

_FREE = frozenset("""parameter constant tuple get-tuple-element reshape bitcast copy broadcast transpose slice
    dynamic-slice dynamic-update-slice concatenate gather scatter pad reverse iota call fusion while conditional
    convert bitcast-convert""".split())


class HloHostSegment:
    def __init__(self, segment: fb.HostSegmentT, data: bytes, inputs: list[Port], outputs: list[Port]):
        from ember_tf.hlo.evaluator import check_supported
        from ember_tf.hlo.text import parse_module

        self.name = segment.name or ""
        self.where = f"host segment '{self.name}'"
        self.inputs, self.outputs = inputs, outputs
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            raise EmulationError(f"{self.where}: buffer {segment.buffer} is not HLO text") from None
        try:
            self.module = parse_module(text, "HLO text")
            check_supported(self.module)
        except EmberError as e:
            raise EmulationError(f"{self.where}: {_first_line(e)}") from None
        parameters = self.module.entry_computation.parameters()
        root = self.module.entry_computation.root_instruction
        results = root.operands if root.opcode == "tuple" else [root.name]
        for kind, count, ports in (("parameter", len(parameters), inputs), ("result", len(results), outputs)):
            if count != len(ports):
                raise EmulationError(f"{self.where} has {count} {kind}(s) but its operator binds {len(ports)} "
                                     f"tensor(s)")
        self.flops, self.flops_by_op, self.constant_bytes = _cost(self.module)

    def run(self, inputs: list[np.ndarray], machine: MachineConfig,
            resident: list[bool] | None = None) -> tuple[list[np.ndarray], HostStats]:
        """`resident[i]`: input i was written by an earlier operator of the run (it is in the LLC)."""
        from ember_tf.hlo.evaluator import evaluate

        try:
            outputs = evaluate(self.module, inputs)
        except EmberError as e:
            raise EmulationError(f"{self.where}: {_first_line(e)}") from None
        outputs = [np.require(o, requirements="C") for o in outputs]
        for port, array in zip(self.outputs, outputs):
            if array.dtype != port.dtype or array.ndim != len(port.shape_signature):
                raise EmulationError(f"{self.where}: a result is {array.dtype} {list(array.shape)}, {port.label} "
                                     f"is {port.dtype} {list(port.shape_signature)}")
        return outputs, roofline(self.name, machine, self.flops, True, dict(self.flops_by_op), self.constant_bytes,
                                 inputs, resident, outputs)


def _cost(module) -> tuple[int, dict[str, int], int]:
    flops, by_op, constant_bytes = 0, {}, 0
    computation = module.entry_computation
    values = {i.name: i for i in computation.instructions}
    for i in computation.instructions:
        if i.opcode == "constant":
            constant_bytes += i.literal.nbytes
        if i.opcode in _FREE or i.shape.is_tuple:
            continue
        if i.opcode == "dot":
            lhs = values[i.operands[0]].shape.dims
            # an outer product has no contracting dimensions, and XLA then omits the attribute
            contracting = i.ints("lhs_contracting_dims") if i.has("lhs_contracting_dims") else ()
            contracted = math.prod(lhs[d] for d in contracting)
            count = 2 * math.prod(i.shape.dims) * contracted
        elif i.opcode == "reduce":
            count = math.prod(values[i.operands[0]].shape.dims)
        else:
            count = math.prod(i.shape.dims)
        flops += count
        by_op[i.opcode] = by_op.get(i.opcode, 0) + count
    return flops, dict(sorted(by_op.items())), constant_bytes


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
