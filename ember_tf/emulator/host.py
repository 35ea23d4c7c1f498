"""Host segments: the residual dense graph (an MLP after the embedding lookups,
say) that the compiler leaves to the host, executed through TensorFlow and
timed by a matrix-unit roofline.

Convention (format GRAPH_DEF). The segment's buffer holds a serialized
`tf.compat.v1.GraphDef`. `input_names` and `output_names` are GraphDef tensor
names, `"node:index"` (`"x:0"`, `"Identity:0"`); a bare `"node"` means
`"node:0"`. The operator binds its i-th input tensor to `input_names[i]` (fed
through `import_graph_def(input_map=...)`, so an input may be a Placeholder or
any intermediate tensor, whose producers are then cut away) and writes
`output_names[i]` to its i-th output tensor, which must have the dtype and
shape signature the model declares. TensorFlow is imported on first use, so
models without host segments never pay for it. Each segment is imported once
per Interpreter (a `tf.compat.v1.wrap_function` over `import_graph_def`, with
the bound tensors' dtypes and shape signatures as its input signature) and
that callable is reused for every run. HLO_MODULE segments are emulator/hlo_host.py's.

Timing model. A host segment runs between DAE kernels (sequentially) on the
cores' matrix units, data parallel over all cores, and costs

    cycles = host_launch_cycles + max(flops / (cores * matrix_flops_per_cycle),
                                      dram_bytes / dram_bytes_per_cycle)

FLOPs come from the GraphDef re-imported with the shapes actually fed (shape
inference, no execution; cached per distinct input shapes), counting only the
ops the outputs depend on: 2*M*N*K for MatMul / BatchMatMul / Einsum and 2 x
output x filter-window for convolutions, 1 per output element for elementwise
arithmetic and activations (BiasAdd, AddV2, Relu, ...), 1 per input element for
reductions, 5 per element for (Log)Softmax, 2 for fused batch norm; shape and
data-movement ops (Reshape, Identity, ConcatV2, Gather, Cast, ...) cost nothing.
A dimension that shape inference cannot resolve counts as 1 (HostStats
`flops_exact` is then false). Ops inside function-library calls (If, While,
PartitionedCall bodies) are not counted. DRAM bytes are every constant or
variable it reads and the inputs that come from outside the run, each moved
once; inputs an earlier operator wrote and the outputs stay in the write-back
LLC, as a kernel's outputs do, unless together they exceed it
(MachineConfig.host_dram_bytes; intermediates are assumed to stay in cache).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.machines import MachineConfig
from ember_tf.emulator.stats import HostStats
from ember_tf.errors import EmulationError
from ember_tf.tf_loader import tensorflow


@dataclasses.dataclass(frozen=True)
class Port:
    """A model tensor bound to a segment input or output."""

    label: str                          # "tensor 'out'", for messages
    dtype: np.dtype
    shape_signature: tuple[int, ...]    # -1: known only at run time


_COST_CACHE_SIZE = 256  # distinct input shapes whose FLOP count a segment keeps


def _tensorflow():
    return tensorflow("running a GRAPH_DEF host segment")


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _tf_failure(error: BaseException) -> str:
    """` at node 'add': Incompatible shapes: ...` from a TensorFlow runtime error,
    whose message spreads the reason and the node over several lines."""
    lines = [line.strip() for line in str(getattr(error, "message", None) or error).splitlines()]
    for i, line in enumerate(lines):
        if line.startswith("[[{{node ") and i and lines[i - 1]:
            node = line[len("[[{{node "):].split("}}", 1)[0].removeprefix("segment/")
            return f" at node '{node}': {lines[i - 1]}"
    return f": {_first_line(error)}"


def _tensor_name(name: str) -> str:
    return name if ":" in name else f"{name}:0"


class HostSegment:
    """One GRAPH_DEF host segment bound to an operator's tensors: imported once,
    then run on numpy inputs giving numpy outputs and the segment's HostStats."""

    def __init__(self, segment: fb.HostSegmentT, data: bytes, inputs: list[Port], outputs: list[Port]):
        self.name = segment.name or ""
        self.where = f"host segment '{self.name}'"
        if segment.format != fb.HostFormat.GRAPH_DEF:
            raise EmulationError(f"{self.where}: unknown host format {segment.format}")
        self.input_names = [_tensor_name(n) for n in segment.inputNames or []]
        self.output_names = [_tensor_name(n) for n in segment.outputNames or []]
        self.inputs, self.outputs = inputs, outputs
        for kind, names, ports in (("input", self.input_names, inputs), ("output", self.output_names, outputs)):
            if len(names) != len(ports):
                raise EmulationError(f"{self.where} has {len(names)} {kind} name(s) but its operator binds "
                                     f"{len(ports)} {kind} tensor(s)")
        tf = _tensorflow()
        self.graph_def = tf.compat.v1.GraphDef()
        try:
            self.graph_def.ParseFromString(bytes(data))
        except Exception as e:  # google.protobuf.message.DecodeError and friends
            raise EmulationError(f"{self.where}: buffer {segment.buffer} is not a serialized GraphDef "
                                 f"({_first_line(e)})") from None
        nodes = {node.name for node in self.graph_def.node}
        for kind, names in (("input", self.input_names), ("output", self.output_names)):
            for name in names:
                if name.rsplit(":", 1)[0] not in nodes:
                    raise EmulationError(f"{self.where}: {kind} '{name}' names no node of the GraphDef")
        specs = [tf.TensorSpec([None if d < 0 else d for d in p.shape_signature], _tf_dtype(p.dtype))
                 for p in inputs]
        self._function = self._import(specs)
        self._costs: dict[tuple, tuple[int, bool, dict, int]] = {}

    def _import(self, specs):
        """The GraphDef as a callable with the given input signature."""
        tf = _tensorflow()

        def imported(*tensors):
            return tf.graph_util.import_graph_def(
                self.graph_def, input_map=dict(zip(self.input_names, tensors)),
                return_elements=self.output_names, name="segment")

        try:
            return tf.compat.v1.wrap_function(imported, specs)
        except (ValueError, TypeError, KeyError, tf.errors.OpError) as e:
            raise EmulationError(f"{self.where}: cannot import its GraphDef: {_first_line(e)}") from None

    def run(self, inputs: list[np.ndarray], machine: MachineConfig,
            resident: list[bool] | None = None) -> tuple[list[np.ndarray], HostStats]:
        """`resident[i]`: input i was written by an earlier operator of the run (it is in the LLC)."""
        tf = _tensorflow()
        for name, port, array in zip(self.input_names, self.inputs, inputs):
            if array.dtype != port.dtype or array.ndim != len(port.shape_signature):
                raise EmulationError(f"{self.where}: input '{name}' ({port.label}) is {array.dtype} "
                                     f"{list(array.shape)}, the model declares {port.dtype} "
                                     f"{list(port.shape_signature)}")
        try:
            results = self._function(*[tf.constant(a) for a in inputs])
        except (tf.errors.OpError, ValueError, TypeError) as e:
            raise EmulationError(f"{self.where}: TensorFlow failed{_tf_failure(e)}") from None
        outputs = [np.require(r.numpy(), requirements="C") for r in results]
        for name, port, array in zip(self.output_names, self.outputs, outputs):
            if array.dtype != port.dtype:
                raise EmulationError(f"{self.where}: output '{name}' has dtype {array.dtype}, {port.label} "
                                     f"is {port.dtype}")
            if array.ndim != len(port.shape_signature) or any(
                    want not in (-1, got) for want, got in zip(port.shape_signature, array.shape)):
                raise EmulationError(f"{self.where}: output '{name}' has shape {list(array.shape)}, {port.label} "
                                     f"is {list(port.shape_signature)} (-1: any size)")
        flops, exact, by_op, constant_bytes = self._cost(inputs)
        return outputs, roofline(self.name, machine, flops, exact, by_op, constant_bytes, inputs, resident, outputs)

    # -- cost model ------------------------------------------------------------------
    def _cost(self, inputs: list[np.ndarray]) -> tuple[int, bool, dict, int]:
        key = tuple((a.dtype.str, a.shape) for a in inputs)
        if key not in self._costs:
            if len(self._costs) >= _COST_CACHE_SIZE:  # a server seeing every batch size: start over
                self._costs.clear()
            tf = _tensorflow()
            function = self._import([tf.TensorSpec(a.shape, _tf_dtype(a.dtype)) for a in inputs])
            self._costs[key] = graph_cost(function.outputs)
        return self._costs[key]


_ELEMENTWISE = frozenset("""
    Abs Acos Add AddV2 Asin Atan Atan2 BiasAdd Ceil ClipByValue Cos Cosh DivNoNan Div Elu Equal Erf Erfc Exp Expm1
    Floor FloorDiv FloorMod Gelu Greater GreaterEqual Inv InvGrad Reciprocal LeakyRelu Less LessEqual Log Log1p
    LogicalAnd LogicalNot LogicalOr Maximum Minimum Mod Mul MulNoNan Neg NotEqual Pow RealDiv Relu Relu6 Rint
    Round Rsqrt Select SelectV2 Selu Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Square SquaredDifference Sub
    Tan Tanh TruncateDiv TruncateMod Xdivy Xlogy
""".split())
_REDUCTIONS = frozenset("All Any ArgMax ArgMin EuclideanNorm Max Mean Min Prod Sum".split())
_PER_ELEMENT = {"Softmax": 5, "LogSoftmax": 5, "FusedBatchNorm": 2, "FusedBatchNormV2": 2, "FusedBatchNormV3": 2}
_MATMULS = frozenset("MatMul BatchMatMul BatchMatMulV2 BatchMatMulV3 _FusedMatMul".split())  # fused: 2MNK only
_CONVS = frozenset("Conv2D Conv3D _FusedConv2D".split())
_VARIABLE_READS = frozenset("ReadVariableOp VariableV2 Variable".split())


def graph_cost(fetches) -> tuple[int, bool, dict[str, int], int]:
    """(flops, every shape known, flops by op type, bytes of constants and
    variables read) of the ops `fetches` depend on, from their static shapes."""
    seen, stack = set(), [t.op for t in fetches]
    flops, by_op, constant_bytes, exact = 0, {}, 0, True
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs)
        stack.extend(op.control_inputs)
        if op.type == "Const" or op.type in _VARIABLE_READS:
            size, known = _elements(op.outputs[0])
            exact &= known
            constant_bytes += size * _itemsize(op.outputs[0].dtype)
            continue
        count, known = _op_flops(op)
        exact &= known
        if count:
            flops += count
            by_op[op.type] = by_op.get(op.type, 0) + count
    return flops, exact, dict(sorted(by_op.items())), constant_bytes


def _dims(tensor) -> tuple[list[int], bool]:
    shape = tensor.shape
    if shape.rank is None:
        return [], False
    dims = shape.as_list()
    return [1 if d is None else int(d) for d in dims], None not in dims


def _elements(tensor) -> tuple[int, bool]:
    dims, known = _dims(tensor)
    return math.prod(dims), known


def _tf_dtype(dtype: np.dtype):
    """TensorFlow's dtype for a port's numpy dtype (strings are held as objects)."""
    tf = _tensorflow()
    return tf.string if dtype == object else tf.as_dtype(dtype)


def roofline(name: str, machine: MachineConfig, flops: int, exact: bool, by_op: dict, constant_bytes: int,
             inputs: list[np.ndarray], resident: list[bool] | None, outputs: list[np.ndarray]) -> HostStats:
    """A segment's statistics on the matrix units' roofline (the module's docstring), for either
    format; `resident[i]`: input i was written by an earlier operator of the run."""
    resident = resident or [False] * len(inputs)
    dram_bytes = machine.host_dram_bytes(
        constant_bytes, sum(_nbytes(a) for a, r in zip(inputs, resident) if not r),
        sum(_nbytes(a) for a, r in zip(inputs, resident) if r), sum(map(_nbytes, outputs)))
    compute = flops / (machine.cores * machine.matrix_flops_per_cycle)
    memory = dram_bytes / machine.dram_bytes_per_cycle
    cycles = int(round(machine.host_launch_cycles + max(compute, memory)))
    return HostStats(name, cycles, flops, dram_bytes, compute >= memory, exact, by_op)


def _nbytes(array: np.ndarray) -> int:
    return sum(len(v) for v in array.flat) if array.dtype == object else array.nbytes


def _itemsize(dtype) -> int:
    try:
        return int(dtype.base_dtype.size)
    except (AttributeError, TypeError, ValueError):
        return 0


def _op_flops(op) -> tuple[int, bool]:
    kind = op.type
    if kind in _ELEMENTWISE:
        return _elements(op.outputs[0])
    if kind in _PER_ELEMENT:
        count, known = _elements(op.outputs[0])
        return _PER_ELEMENT[kind] * count, known
    if kind == "AddN":
        count, known = _elements(op.outputs[0])
        return (len(op.inputs) - 1) * count, known
    if kind in _REDUCTIONS:
        return _elements(op.inputs[0])
    if kind in _MATMULS:
        a, known_a = _dims(op.inputs[0])
        out, known_out = _elements(op.outputs[0])
        transposed = any(_attr(op, name) for name in ("transpose_a", "adj_x"))
        k = (a[-2] if transposed else a[-1]) if len(a) >= 2 else 1
        return 2 * out * k, known_a and known_out
    if kind in _CONVS or kind == "DepthwiseConv2dNative":
        window, known_f = _dims(op.inputs[1])
        out, known_out = _elements(op.outputs[0])
        per_output = math.prod(window[:-1]) if kind in _CONVS else math.prod(window[:-2])
        return 2 * out * per_output, known_f and known_out
    if kind == "Einsum":
        return _einsum_flops(op)
    return 0, True


def _attr(op, name: str) -> bool:
    try:
        return bool(op.get_attr(name))
    except ValueError:
        return False


def _einsum_flops(op) -> tuple[int, bool]:
    equation = op.get_attr("equation")
    equation = (equation.decode() if isinstance(equation, bytes) else equation).replace(" ", "")
    if "->" not in equation:
        return 0, False
    specs, output = equation.split("->")
    sizes, known = {}, True
    for spec, tensor in zip(specs.split(","), op.inputs):
        dims, known_dims = _dims(tensor)
        known &= known_dims
        head, _, tail = spec.partition("...")
        pairs = list(zip(head, dims)) + (list(zip(tail, dims[len(dims) - len(tail):])) if tail else [])
        sizes.update(pairs)
    out, known_out = _elements(op.outputs[0])
    contracted = math.prod(size for label, size in sizes.items() if label not in output)
    factor = 2 if len(op.inputs) > 1 else 1
    return factor * out * contracted, known and known_out
