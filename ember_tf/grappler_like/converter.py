"""The SavedModel frontend end to end (what `Converter.from_saved_model(path)` returns).

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

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.metadata import INPUT_KEYS_METADATA
from ember_tf.errors import ConversionError
from ember_tf.frontend import (
    EXTERNAL_TABLE_BYTES, ConverterBase, HostStep, KernelCall, ModelLayout, Rewritten, SignatureReport,
    signature_report,
)
from ember_tf.frontend.planning import ID_ARGS, KernelSizes, PlacedKernel, PlanningOptions
from ember_tf.grappler_like.flat_graph import FlatGraph
from ember_tf.grappler_like.host_graph import Plan, plan
from ember_tf.grappler_like.rewriter import ShardedTable, rewrite_graph
from ember_tf.grappler_like.saved_model import SavedModelGraph, Variable, read_saved_model
from ember_tf.ir.hot_rows import hot_remapped

FINGERPRINT_METADATA = "saved_model_fingerprint"
# Ops that look like embedding work: when one stays on the host unexplained, the report says so.
EMBEDDING_OPS = frozenset("""ResourceGather SparseSegmentSum SparseSegmentMean SparseSegmentSqrtN
    SparseSegmentSumWithNumSegments SparseSegmentMeanWithNumSegments SparseSegmentSqrtNWithNumSegments
    SegmentSum UnsortedSegmentSum SparseTensorDenseMatMul RaggedGather""".split())


class SavedModelConverter(ConverterBase):
    """Converts a SavedModel's signatures (all, or `signature_keys`) to one .daebin."""

    def __init__(self, saved_model: SavedModelGraph, signature_keys: list[str] | None = None,
                 options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES,
                 planning: PlanningOptions = PlanningOptions()):
        super().__init__(saved_model.path, options, external_threshold, planning)
        self.saved_model = saved_model
        keys = list(signature_keys) if signature_keys else sorted(saved_model.signatures)
        if not keys:
            raise ConversionError(f"{saved_model.path}: the SavedModel has no signatures")
        for key in keys:
            saved_model.signature(key)   # a clear error for an unknown key
        self.signature_keys = keys

    @classmethod
    def from_directory(cls, saved_model_dir: str | os.PathLike, signature_keys: list[str] | None = None,
                       tags: set[str] | list[str] | None = None, options: CompileOptions = CompileOptions(),
                       external_threshold: int = EXTERNAL_TABLE_BYTES,
                       planning: PlanningOptions = PlanningOptions()) -> "SavedModelConverter":
        graph = read_saved_model(os.fspath(saved_model_dir), tuple(tags) if tags else ("serve",))
        return cls(graph, signature_keys, options, external_threshold, planning)

    def build_model(self) -> fb.ModelT:
        builder = _ModelBuilder(self.saved_model, self.new_layout())
        reports: list[SignatureReport] = []
        built: dict[str, tuple[str, SignatureReport]] = {}   # body function -> first signature using it
        bodies = {self.saved_model.signature(k).function_name for k in self.signature_keys}
        for key in self.signature_keys:
            signature = self.saved_model.signature(key)
            if signature.function_name in built:   # Keras writes `serve` and `serving_default` alike
                first, report = built[signature.function_name]
                builder.alias_signature(key, first)
                reports.append(dataclasses.replace(report, key=key))
                continue
            graph = FlatGraph(self.saved_model, signature)
            rewritten = rewrite_graph(graph)
            steps = plan(graph, rewritten)
            placed = self.place_kernels(key, steps.steps, lambda call: _static_sizes(call, steps), _constant_table)
            builder.add_signature(key, steps, placed, prefix=f"{key}/" if len(bodies) > 1 else "")
            reports.append(_report(key, rewritten, steps, placed))
            built[signature.function_name] = (key, reports[-1])
        fingerprint = self.saved_model.fingerprint
        if fingerprint is not None:
            builder.add_metadata(FINGERPRINT_METADATA, json.dumps(dataclasses.asdict(fingerprint)))
        self.add_reports(builder.layout, reports)
        # how TF Serving requests (SignatureDef input keys) map onto the npz component names
        keys = {k: {key: component for component, key in self.saved_model.signature(k).component_keys.items()}
                for k in self.signature_keys}
        builder.add_metadata(INPUT_KEYS_METADATA, json.dumps(keys, separators=(",", ":")))
        return builder.model


class _ModelBuilder:
    """The SavedModel converter's plans laid out as one model (frontend/layout.py)."""

    def __init__(self, saved_model: SavedModelGraph, layout: ModelLayout):
        self.saved_model = saved_model
        self.layout = layout
        self.model = self.layout.model
        self.add_metadata, self.alias_signature = self.layout.metadata, self.layout.alias_signature

    def add_signature(self, key: str, steps: Plan, placed: dict[int, PlacedKernel], prefix: str) -> None:
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
        for index, step in enumerate(steps.steps):
            if isinstance(step, HostStep):
                operators.append(self.layout.host_segment(
                    prefix + step.name, fb.HostFormat.GRAPH_DEF, step.program.SerializeToString(deterministic=True),
                    step.input_names, step.outputs, [tensor(t) for t in step.inputs],
                    [tensor(t) for t in step.outputs]))
            else:
                call, where = step.call, placed[index]
                func, table = call.func, call.inputs[0]
                if where.hot is None:
                    args = [tensor(table) if isinstance(table, str) else self._table(table)]
                else:     # the extended table replaces the table (never stored twice)
                    func = hot_remapped(func, func.arg_names[0])
                    args = list(self._hot_table(table, where.hot))
                args += [tensor(s) if isinstance(s, str) else self._table(s) for s in call.inputs[1:]]
                operators.append(self.layout.kernel(func, where.options, args, [tensor(t) for t in call.outputs],
                                                    (where.core_offset, where.core_count)))
        outputs = {name: tensor(t) for name, t in steps.outputs.items()}
        self.layout.signature(key, inputs, outputs, operators)

    def _hot_table(self, table: Variable | ShardedTable, hot) -> tuple[int, int]:
        return self.layout.hot_table(table.name, lambda: self._read(table), hot)

    def _table(self, table: Variable | ShardedTable) -> int:
        return self.layout.constant(table.name, table.name, lambda: self._read(table))

    def _read(self, table: Variable | ShardedTable):
        """The table's value: streamed from the checkpoint when the layout stores it after the
        FlatBuffer (frontend.layout.StreamedTable), never read whole then."""
        if isinstance(table, ShardedTable):
            return table.streamed([self.saved_model.table_view(v) for v in table.shards])
        return self.saved_model.table(table)


def _constant_table(call: KernelCall) -> str | None:
    """A call's table's name when it is a variable of the SavedModel (a constant of the model)."""
    table = call.inputs[0]
    return None if isinstance(table, str) else table.name


def _display(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def _report(key: str, rewritten: Rewritten, steps: Plan, placed: dict[int, PlacedKernel]) -> SignatureReport:
    return signature_report(key, rewritten, steps.steps, _host_ops, "TensorFlow", EMBEDDING_OPS, placed)


def _static_sizes(call: KernelCall, steps: Plan) -> KernelSizes | None:
    """A kernel call's sizes from static shapes, when every one needed is known."""
    table = call.inputs[0]
    if isinstance(table, str):
        rows = (steps.tensor_info[table].shape or (None,))[0]
    else:
        rows = table.shape[0] if isinstance(table, Variable) else len(table.shard_of)
    ids = [steps.tensor_info[t].shape for n, t in zip(call.func.arg_names, call.inputs) if n in ID_ARGS]
    out = steps.tensor_info[call.outputs[0]].shape if call.outputs else None
    known = rows is not None and ids and ids[0] is not None and None not in ids[0] and out and out[0] is not None
    return KernelSizes(int(rows), int(out[0]), int(np.prod(ids[0], dtype=np.int64))) if known else None


def _host_ops(step: HostStep):
    """A segment's nodes worth naming: not its inputs, constants and plumbing."""
    return [(node.name, node.op) for node in step.program.node
            if node.op not in ("Placeholder", "Const", "Identity", "NoOp")]
