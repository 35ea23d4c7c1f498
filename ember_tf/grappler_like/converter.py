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

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.metadata import INPUT_KEYS_METADATA
from ember_tf.errors import ConversionError
from ember_tf.grappler_like.flat_graph import FlatGraph
from ember_tf.grappler_like.host_graph import HostStep, KernelStep, Plan, plan
from ember_tf.grappler_like.rewriter import Rewritten, ShardedTable, rewrite_graph
from ember_tf.grappler_like.saved_model import SavedModelGraph, Variable, read_saved_model
from ember_tf.model_layout import EXTERNAL_TABLE_BYTES, REPORT_METADATA, ModelLayout

FINGERPRINT_METADATA = "saved_model_fingerprint"
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

    @staticmethod
    def from_hlo(path: str | os.PathLike, params_path: str | os.PathLike | None = None,
                 options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES):
        """A converter for an HLO module (text, or a serialized HloModuleProto with the .pb
        suffix); `params_path`: an .npz binding parameters `p0`, `p1`, ... (the tables)."""
        from ember_tf.hlo_import import HloConverter

        return HloConverter.from_file(path, params_path, options, external_threshold)

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
    """The SavedModel converter's plans laid out as one model (model_layout)."""

    def __init__(self, saved_model: SavedModelGraph, external_threshold: int):
        self.saved_model = saved_model
        name = os.path.basename(saved_model.path.rstrip("/"))
        self.layout = ModelLayout(f"converted by ember-tf from {name}", saved_model.path, external_threshold)
        self.model = self.layout.model
        self.add_metadata, self.alias_signature = self.layout.metadata, self.layout.alias_signature

    def add_signature(self, key: str, steps: Plan, options: CompileOptions, prefix: str) -> None:
        tensors: dict[str, int] = {}

        def tensor(name: str) -> int:
            if name not in tensors:
                info = steps.tensor_info[name]
                if info.shape is None:
                    raise ConversionError(f"{self.saved_model.path}: the rank of tensor {name!r} is unknown; "
                                          f"a .daebin tensor needs one")
                tensors[name] = self.layout.tensor(prefix + _display(name), info.dtype, info.shape)
            return tensors[name]

        inputs = {component: tensor(t) for component, t in steps.inputs.items()}
        operators = []
        for step in steps.steps:
            if isinstance(step, HostStep):
                operators.append(self.layout.host_segment(
                    prefix + step.name, fb.HostFormat.GRAPH_DEF, step.graph_def.SerializeToString(deterministic=True),
                    step.input_names, step.outputs, [tensor(t) for t in step.inputs],
                    [tensor(t) for t in step.outputs]))
            else:
                call = step.call
                operators.append(self.layout.kernel(
                    call.func, options, [tensor(s) if isinstance(s, str) else self._table(s) for s in call.inputs],
                    [tensor(t) for t in call.outputs]))
        outputs = {name: tensor(t) for name, t in steps.outputs.items()}
        self.layout.signature(key, inputs, outputs, operators)

    def _table(self, table: Variable | ShardedTable) -> int:
        if isinstance(table, ShardedTable):
            return self.layout.constant(table.name, table.name, lambda: table.value(self.saved_model.read_variable))
        return self.layout.constant(table.name, table.name, lambda: self.saved_model.read_variable(table))


def _display(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


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
