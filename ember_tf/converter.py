"""`Converter.from_saved_model(path).convert()`: the SavedModel frontend end to end,
in the shape of tf.lite.TFLiteConverter.

For each signature: flatten its body (`grappler_like.FlatGraph`), rewrite the
embedding operations into kernels (`grappler_like.rewriter`), cut what is left
into host segments (`grappler_like.host_graph`), compile every kernel
(`compiler`), and lay it all out as one .daebin model: tables are constant
tensors whose data comes straight from the checkpoint (shared by the signatures
that read them), host segments are serialized GraphDefs, and the operators run
in the order the plan gives. The SavedModel's fingerprint and a conversion
report (what was offloaded, what was not and why) go into the metadata."""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Callable

import numpy as np

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions, compile_kernel
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.errors import ConversionError
from ember_tf.grappler_like.flat_graph import FlatGraph, TensorInfo
from ember_tf.grappler_like.host_graph import HostStep, KernelStep, Plan, plan
from ember_tf.grappler_like.rewriter import Rewritten, ShardedTable, rewrite_graph
from ember_tf.grappler_like.saved_model import SavedModelGraph, Variable, read_saved_model
from ember_tf.ir.printer import print_func
from ember_tf.version import SCHEMA_VERSION

FINGERPRINT_METADATA = "saved_model_fingerprint"
REPORT_METADATA = "conversion_report"
INPUT_KEYS_METADATA = "signature_input_keys"
# Tables this large go after the FlatBuffer: the writer streams them from the
# checkpoint's arrays instead of copying them into the FlatBuffer's builder.
EXTERNAL_TABLE_BYTES = 16 << 20
# Ops that look like embedding work: when one stays on the host unexplained, the report says so.
EMBEDDING_OPS = frozenset("""ResourceGather SparseSegmentSum SparseSegmentMean SparseSegmentSqrtN
    SparseSegmentSumWithNumSegments SparseSegmentMeanWithNumSegments SparseSegmentSqrtNWithNumSegments
    SegmentSum UnsortedSegmentSum SparseTensorDenseMatMul RaggedGather""".split())


@dataclasses.dataclass
class SignatureReport:
    key: str
    offloaded: list[dict]      # {family, kernel, nodes, tables}
    not_offloaded: list[dict]  # {family, node, op, reason}
    host_segments: list[dict]  # {name, ops: {op: count}}


class Converter:
    """Converts a SavedModel to .daebin bytes (or a file, with progress)."""

    def __init__(self, saved_model: SavedModelGraph, signature_keys: list[str] | None = None,
                 options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES):
        self.saved_model = saved_model
        keys = list(signature_keys) if signature_keys else sorted(saved_model.signatures)
        if not keys:
            raise ConversionError(f"{saved_model.path}: the SavedModel has no signatures")
        for key in keys:
            saved_model.signature(key)   # a clear error for an unknown key
        self.signature_keys = keys
        self.options = options
        self.external_threshold = external_threshold
        self.reports: list[SignatureReport] = []

    @classmethod
    def from_saved_model(cls, saved_model_dir: str | os.PathLike, signature_keys: list[str] | None = None,
                         tags: set[str] | list[str] | None = None, options: CompileOptions = CompileOptions(),
                         external_threshold: int = EXTERNAL_TABLE_BYTES) -> "Converter":
        """`external_threshold`: tables of at least this many bytes are stored after the
        FlatBuffer (streamed to the file, never copied into it)."""
        graph = read_saved_model(os.fspath(saved_model_dir), tuple(tags) if tags else ("serve",))
        return cls(graph, signature_keys, options, external_threshold)

    def convert(self) -> bytes:
        return dae_isa.serialize_model(self.build_model())

    def convert_to_file(self, path: str | os.PathLike,
                        progress: Callable[[int, int], None] | None = None) -> int:
        """Writes the model atomically (no partial file on failure); returns its size."""
        return dae_isa.write_model(self.build_model(), path, progress=progress)

    def build_model(self) -> fb.ModelT:
        builder = _ModelBuilder(self.saved_model, self.external_threshold)
        self.reports = []
        built: dict[str, tuple[str, SignatureReport]] = {}   # body function -> first signature using it
        bodies = {self.saved_model.signature(k).function_name for k in self.signature_keys}
        for key in self.signature_keys:
            signature = self.saved_model.signature(key)
            if signature.function_name in built:   # Keras writes `serve` and `serving_default` alike
                first, report = built[signature.function_name]
                builder.alias_signature(key, first)
                self.reports.append(dataclasses.replace(report, key=key))
                continue
            graph = FlatGraph(self.saved_model, signature)
            rewritten = rewrite_graph(graph)
            steps = plan(graph, rewritten)
            builder.add_signature(key, steps, self.options, prefix=f"{key}/" if len(bodies) > 1 else "")
            self.reports.append(_report(key, rewritten, steps))
            built[signature.function_name] = (key, self.reports[-1])
        fingerprint = self.saved_model.fingerprint
        if fingerprint is not None:
            builder.add_metadata(FINGERPRINT_METADATA, json.dumps(dataclasses.asdict(fingerprint)))
        builder.add_metadata(REPORT_METADATA, json.dumps([dataclasses.asdict(r) for r in self.reports],
                                                         separators=(",", ":")))
        # how TF Serving requests (SignatureDef input keys) map onto the npz component names
        keys = {k: {key: component for component, key in self.saved_model.signature(k).component_keys.items()}
                for k in self.signature_keys}
        builder.add_metadata(INPUT_KEYS_METADATA, json.dumps(keys, separators=(",", ":")))
        return builder.model


class _ModelBuilder:
    def __init__(self, saved_model: SavedModelGraph, external_threshold: int):
        self.saved_model = saved_model
        self.external_threshold = external_threshold
        self.model = fb.ModelT()
        self.model.version = SCHEMA_VERSION
        self.model.description = f"converted by ember-tf from {os.path.basename(saved_model.path.rstrip('/'))}"
        self.model.buffers = [fb.BufferT()]
        self.model.tensors, self.model.kernels, self.model.hostSegments = [], [], []
        self.model.subgraphs, self.model.signatureDefs, self.model.metadata = [], [], []
        self.tables: dict[str, int] = {}   # variable path -> tensor index
        self.kernels: dict[tuple, int] = {}  # (kernel IR, options) -> index in model.kernels

    def add_signature(self, key: str, steps: Plan, options: CompileOptions, prefix: str) -> None:
        tensors: dict[str, int] = {}

        def tensor(name: str) -> int:
            if name not in tensors:
                tensors[name] = self._tensor(prefix + _display(name), steps.tensor_info[name], name)
            return tensors[name]

        inputs = {component: tensor(t) for component, t in steps.inputs.items()}
        operators = []
        for step in steps.steps:
            if isinstance(step, HostStep):
                operators.append(self._host_segment(prefix + step.name, step, tensor))
            else:
                operators.append(self._kernel(step, options, tensor))
        outputs = {name: tensor(t) for name, t in steps.outputs.items()}
        subgraph = fb.SubGraphT()
        subgraph.name = key
        subgraph.inputs, subgraph.outputs = list(inputs.values()), list(outputs.values())
        subgraph.operators = operators
        self.model.subgraphs.append(subgraph)
        signature = fb.SignatureDefT()
        signature.key, signature.subgraph = key, len(self.model.subgraphs) - 1
        signature.inputs = [_tensor_map(n, i) for n, i in inputs.items()]
        signature.outputs = [_tensor_map(n, i) for n, i in outputs.items()]
        self.model.signatureDefs.append(signature)

    def alias_signature(self, key: str, same_as: str) -> None:
        """A signature running the same subgraph as signature `same_as`."""
        original = next(s for s in self.model.signatureDefs if s.key == same_as)
        signature = fb.SignatureDefT()
        signature.key, signature.subgraph = key, original.subgraph
        signature.inputs = [_tensor_map(m.name, m.tensor) for m in original.inputs]
        signature.outputs = [_tensor_map(m.name, m.tensor) for m in original.outputs]
        self.model.signatureDefs.append(signature)

    def _tensor(self, name: str, info: TensorInfo, graph_name: str) -> int:
        if info.shape is None:
            raise ConversionError(f"{self.saved_model.path}: the rank of tensor {graph_name!r} is unknown; "
                                  f"a .daebin tensor needs one")
        t = fb.TensorT()
        t.name = name
        t.dtype = _dtype_code(info.dtype, graph_name, self.saved_model.path)
        t.shape = [1 if d is None else d for d in info.shape]
        t.shapeSignature = [-1 if d is None else d for d in info.shape]
        self.model.tensors.append(t)
        return len(self.model.tensors) - 1

    def _table(self, variable: Variable | ShardedTable) -> int:
        if variable.name not in self.tables:
            if isinstance(variable, ShardedTable):
                value = variable.value(self.saved_model.read_variable)
            else:
                value = np.require(self.saved_model.read_variable(variable), requirements="C")
            buffer = fb.BufferT(data=value.reshape(-1).view(np.uint8))
            if value.nbytes and value.nbytes >= self.external_threshold:
                buffer.offset, buffer.size = 1, value.nbytes   # the writer places it after the FlatBuffer
            self.model.buffers.append(buffer)
            t = fb.TensorT()
            t.name = variable.name
            t.dtype = _dtype_code(str(value.dtype), variable.name, self.saved_model.path)
            t.shape = t.shapeSignature = list(value.shape)
            t.buffer = len(self.model.buffers) - 1
            self.model.tensors.append(t)
            self.tables[variable.name] = len(self.model.tensors) - 1
        return self.tables[variable.name]

    def _kernel(self, step: KernelStep, options: CompileOptions, tensor) -> fb.OperatorT:
        call = step.call
        key = (print_func(call.func), options)   # tables of one shape share one compiled kernel
        if key not in self.kernels:
            text = compile_kernel(call.func, options)
            kernel = dae_isa.assemble(f".model version={SCHEMA_VERSION}\n{text}",
                                      f"<compiled {call.func.name}>").kernels[0]
            kernel.name = f"{call.func.name}_{len(self.model.kernels)}"
            self.model.kernels.append(kernel)
            self.kernels[key] = len(self.model.kernels) - 1
        op = fb.OperatorT()
        op.kind, op.index = fb.OperatorKind.KERNEL, self.kernels[key]
        op.inputs = [tensor(s) if isinstance(s, str) else self._table(s) for s in call.inputs]
        op.outputs = [tensor(t) for t in call.outputs]
        return op

    def _host_segment(self, name: str, step: HostStep, tensor) -> fb.OperatorT:
        self.model.buffers.append(fb.BufferT(data=np.frombuffer(step.graph_def.SerializeToString(), np.uint8)))
        segment = fb.HostSegmentT()
        segment.name, segment.format = name, fb.HostFormat.GRAPH_DEF
        segment.buffer = len(self.model.buffers) - 1
        segment.inputNames, segment.outputNames = list(step.input_names), list(step.outputs)
        self.model.hostSegments.append(segment)
        op = fb.OperatorT()
        op.kind, op.index = fb.OperatorKind.HOST_SEGMENT, len(self.model.hostSegments) - 1
        op.inputs = [tensor(t) for t in step.inputs]
        op.outputs = [tensor(t) for t in step.outputs]
        return op

    def add_metadata(self, name: str, text: str) -> None:
        self.model.buffers.append(fb.BufferT(data=np.frombuffer(text.encode(), np.uint8)))
        entry = fb.MetadataT()
        entry.name, entry.buffer = name, len(self.model.buffers) - 1
        self.model.metadata.append(entry)


def _tensor_map(name: str, index: int) -> fb.TensorMapT:
    m = fb.TensorMapT()
    m.name, m.tensor = name, index
    return m


def _display(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _dtype_code(name: str, tensor: str, path: str) -> int:
    if name not in dtypes.BY_NAME:
        raise ConversionError(f"{path}: tensor {tensor!r} is {name}, which a .daebin cannot hold "
                              f"(supported: {', '.join(sorted(dtypes.BY_NAME))})")
    return dtypes.BY_NAME[name].code


def _report(key: str, rewritten: Rewritten, steps: Plan) -> SignatureReport:
    offloaded = []
    for step in steps.steps:
        if isinstance(step, KernelStep):
            call = step.call
            offloaded.append({"family": call.family, "kernel": call.func.name, "nodes": call.nodes,
                              "tables": [s.name for s in call.inputs if not isinstance(s, str)]})
    skipped = [dataclasses.asdict(s) for s in rewritten.skipped]
    explained = {s.node for s in rewritten.skipped}
    hosts = []
    for step in steps.steps:
        if isinstance(step, HostStep):
            ops: dict[str, int] = {}
            for node in step.graph_def.node:
                if node.op not in ("Placeholder", "Const", "Identity", "NoOp"):
                    ops[node.op] = ops.get(node.op, 0) + 1
                if node.op in EMBEDDING_OPS and node.name not in explained and not node.name.startswith("ember_"):
                    skipped.append({"family": "", "node": node.name, "op": node.op,
                                    "reason": "no rewriter's pattern matches it (see docs/ARCHITECTURE.md)"})
            hosts.append({"name": step.name, "ops": dict(sorted(ops.items()))})
    return SignatureReport(key, offloaded, skipped, hosts)
