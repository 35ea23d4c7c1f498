"""Print a model as .dasm text that assembles back to the same bytes.

Labels are not stored in a .daebin, so jump targets print as L<index>. With
data=False buffer contents are left out (for reading, not re-assembling).
"""

from __future__ import annotations

import base64
import json

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Instruction, Src, decode_all
from ember_tf.dae_isa.opcodes import REGISTER_COUNTS, AluOp, Event, GroupMode, Kind, SrcKind, Unit
from ember_tf.dae_isa.writer import buffer_bytes

_NAMES = {
    "host_format": {v: k for k, v in {"graph_def": fb.HostFormat.GRAPH_DEF,
                                      "hlo_module": fb.HostFormat.HLO_MODULE}.items()},
    "operator": {fb.OperatorKind.KERNEL: "kernel", fb.OperatorKind.HOST_SEGMENT: "host_segment"},
    "access": {fb.SlotAccess.READ: "read", fb.SlotAccess.WRITE: "write"},
    "placement": {fb.Placement.SCRATCHPAD: "scratchpad", fb.Placement.BUFFER: "buffer", fb.Placement.HOT: "hot"},
}
_PREFIX = {Kind.ICONST: "k", Kind.FCONST: "kf", Kind.JTABLE: "jt", Kind.PARAM: "p", Kind.TU: "t", Kind.STREAM: "s"}


def _seq(values):
    """A vector field as a sequence: flatc leaves absent ones None, read ones numpy."""
    return [] if values is None else values


def _q(text: str | None) -> str:
    return json.dumps(text or "")


def _ints(values) -> str:
    return "[" + ", ".join(str(int(v)) for v in _seq(values)) + "]"


def _dtype(code: int) -> str:
    return dtypes.BY_CODE[code].name


def _is_identifier(name: str) -> bool:
    return name.isidentifier()


class _KernelPrinter:
    def __init__(self, kernel: fb.KernelT):
        self.kernel = kernel
        names = [slot.name or "" for slot in kernel.slots or []]
        self.slot_names = [n if _is_identifier(n) and names.count(n) == 1 else f"@{i}" for i, n in enumerate(names)]
        self.access = decode_all(_seq(kernel.accessCode))
        self.execute = decode_all(_seq(kernel.executeCode))
        targets = {int(t) for table in kernel.jumpTables or [] for t in _seq(table.targets)}
        for ins in self.execute:
            targets.update(v for op, v in zip(ins.spec.operands, ins.args) if op.kind is Kind.LABEL)
        self.labels = {pc: f"L{pc}" for pc in sorted(targets)}

    def lines(self) -> list[str]:
        k = self.kernel
        m = k.machine
        out = [f".kernel {_q(k.name)} version={k.version}" + (f" copies={k.copies}" if k.copies > 1 else "")]
        if m is not None:
            out.append(
                f".machine {_q(m.name)} lanes={m.lanes} traversal_groups={m.traversalGroups} "
                f"lane_storage_bytes={m.laneStorageBytes} outstanding_requests={m.outstandingRequests} "
                f"vector_bytes={m.vectorBytes} queue_chunk_bytes={m.queueChunkBytes} "
                f"access_unit={'true' if m.hasAccessUnit else 'false'}")
        for i, slot in enumerate(k.slots or []):
            name = self.slot_names[i] if not self.slot_names[i].startswith("@") else _q(slot.name)
            line = f".slot {name} {_dtype(slot.dtype)} {_NAMES['access'][slot.access]} rank={slot.rank}"
            if slot.placement:
                line += f" place={_NAMES['placement'][slot.placement]}"
            if slot.hotRows:
                line += f" hot_rows={slot.hotRows}"
            if slot.shape is not None and len(slot.shape):
                dims = ", ".join(str(int(d)) if d >= 0 else f"p{-int(d) - 1}" for d in slot.shape)
                line += f" shape=[{dims}]"
            out.append(line)
        for i, param in enumerate(k.params or []):
            if param.kind == fb.ParamKind.COPY:
                out.append(f".param p{i} copy")
                continue
            source = f"element={param.element}" if param.kind == fb.ParamKind.ELEMENT else f"dim={param.dim}"
            out.append(f".param p{i} slot={self.slot_names[param.slot]} {source} add={param.add}")
        for i, value in enumerate(_seq(k.intConstants)):
            out.append(f".const k{i} {int(value)}")
        for i, value in enumerate(_seq(k.floatConstants)):
            out.append(f".fconst kf{i} {float(value).hex()}")
        for i, table in enumerate(k.jumpTables or []):
            out.append(f".jumptable jt{i} " + " ".join(self.labels[int(t)] for t in _seq(table.targets)))
        if self.access:
            out.append(".access")
            out.extend("  " + self.instruction(ins) for ins in self.access)
        out.append(".execute")
        for pc, ins in enumerate(self.execute):
            label = self.labels.get(pc)
            out.append((f"{label}:" if label else "").ljust(8) + self.instruction(ins))
        out.append(".end")
        return out

    def instruction(self, ins: Instruction) -> str:
        dtype = ins.spec.dtype_operand
        head = ins.mnemonic + (f".{dtypes.BY_CODE[ins.arg('dtype')].suffix}" if dtype else "")
        texts = []
        for i, (operand, value) in enumerate(zip(ins.spec.operands, ins.args)):
            if operand is dtype:
                continue
            text = self.operand(operand.kind, value)
            # Access-unit operands print as name=value (after the defined entity) to read like a config.
            keyword = ins.spec.unit is Unit.ACCESS and i > 0
            texts.append(f"{operand.name}={text}" if keyword else text)
        return head + (" " + ", ".join(texts) if texts else "")

    def operand(self, kind: Kind, value) -> str:
        if kind in REGISTER_COUNTS:
            return f"{kind.value}{value}"
        if kind in _PREFIX:
            return f"{_PREFIX[kind]}{value}"
        if kind is Kind.TU_OR_NONE:
            return "none" if value is None else f"t{value}"
        if kind is Kind.SLOT:
            return self.slot_names[value]
        if kind is Kind.LABEL:
            return self.labels[value]
        if kind in (Kind.SRC, Kind.SRC_OR_NONE):
            return "none" if value is None else _src(value)
        for enum_type, enum_kind in ((Event, Kind.EVENT), (AluOp, Kind.ALUOP), (GroupMode, Kind.MODE)):
            if kind is enum_kind:
                return enum_type(value).name.lower()
        return str(value)


def _src(src: Src) -> str:
    prefix = {SrcKind.STREAM: "s", SrcKind.PARAM: "p", SrcKind.CONST: "k"}.get(src.kind, "")
    return f"{prefix}{src.value}"


def disassemble_kernel(kernel: fb.KernelT) -> str:
    return "\n".join(_KernelPrinter(kernel).lines()) + "\n"


def disassemble(model: fb.ModelT, data: bool = True) -> str:
    """The .dasm text of a model."""
    out = ["; ember-tf DAE assembly", f".model version={model.version} description={_q(model.description)}"]
    for i, buffer in enumerate(model.buffers or []):
        if i == 0:
            continue
        raw = buffer_bytes(buffer)
        external = " external=true" if buffer.offset else ""
        if data:
            out.append(f".buffer {i}{external} data=\"{base64.b64encode(raw).decode('ascii')}\"")
        else:
            out.append(f"; .buffer {i}{external}: {len(raw)} bytes not shown")
    for i, t in enumerate(model.tensors or []):
        line = f".tensor {i} {_q(t.name)} dtype={_dtype(t.dtype)} shape={_ints(t.shape)}"
        if _ints(t.shapeSignature) != _ints(t.shape):
            line += f" signature={_ints(t.shapeSignature)}"
        if t.buffer:
            line += f" buffer={t.buffer}"
        out.append(line)
    for kernel in model.kernels or []:
        out.extend(_KernelPrinter(kernel).lines())
    for i, seg in enumerate(model.hostSegments or []):
        out.append(f".host_segment {i} {_q(seg.name)} format={_NAMES['host_format'][seg.format]} "
                   f"buffer={seg.buffer} inputs={json.dumps(seg.inputNames or [])} "
                   f"outputs={json.dumps(seg.outputNames or [])}")
    for sg in model.subgraphs or []:
        out.append(f".subgraph {_q(sg.name)} inputs={_ints(sg.inputs)} outputs={_ints(sg.outputs)}")
        for op in sg.operators or []:
            cores = f" cores={op.coreOffset}+{op.coreCount}" if op.coreOffset or op.coreCount else ""
            out.append(f".operator {_NAMES['operator'][op.kind]} {op.index} inputs={_ints(op.inputs)} "
                       f"outputs={_ints(op.outputs)}{cores}")
    for sig in model.signatureDefs or []:
        out.append(f".signature {_q(sig.key)} subgraph={sig.subgraph}")
        out.extend(f".input {_q(m.name)} {m.tensor}" for m in sig.inputs or [])
        out.extend(f".output {_q(m.name)} {m.tensor}" for m in sig.outputs or [])
    for entry in model.metadata or []:
        out.append(f".metadata {_q(entry.name)} buffer={entry.buffer}")
    return "\n".join(out) + "\n"
