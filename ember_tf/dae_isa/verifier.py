"""Semantic verification of a model: every index in range, shapes and dtypes
consistent, versions supported, every instruction operand valid.

It runs on the object model (ModelT), so the writer checks what it is about to
write and the reader checks what it has just read, with the same rules.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Instruction, Src, decode
from ember_tf.dae_isa.opcodes import MAX_VECTOR_WIDTH, Event, Kind, SrcKind, Unit
from ember_tf.errors import DaebinFormatError
from ember_tf.version import KERNEL_VERSION, RUNTIME_VERSION, SCHEMA_VERSION

MIN_RUNTIME_VERSION = "min_runtime_version"
# Core instructions that write their slot: only WRITE slots may be named.
STORES = ("st", "fst", "vst", "vscatter")
# Buffer.offset of data stored after the FlatBuffer is a multiple of this.
EXTERNAL_ALIGNMENT = 64


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, problem: str):
        raise DaebinFormatError(f"{self.source}: {where}: {problem}")

    def index(self, value, count: int, where: str, what: str) -> int:
        if value is None or not 0 <= int(value) < count:
            self.fail(where, f"{what} index {value} out of range (0..{count - 1})")
        return int(value)

    def required(self, value, where: str, what: str):
        if value is None:
            self.fail(where, f"missing {what}")
        return value


def _count(items) -> int:
    return 0 if items is None else len(items)


def _ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def parse_version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.strip("\0").strip().split("."))


def verify_model(model: fb.ModelT, source: str, file=None) -> None:
    """Raises DaebinFormatError (prefixed with `source`) on the first defect.

    `file` is the whole file the model was read from (None for a model about
    to be written): buffers stored after the FlatBuffer are checked against it.
    """
    check = _Checker(source)
    file_size = None if file is None else len(file)
    version = model.version
    if version is None or version < 1:
        check.fail("model", f"schema version {version} is not a valid version")
    if version > SCHEMA_VERSION:
        check.fail("model", f"schema version {version} is newer than this runtime supports ({SCHEMA_VERSION})")
    buffers = model.buffers or []
    if not buffers:
        check.fail("buffers", "buffer 0 (the empty sentinel) is missing")
    sizes = [_verify_buffer(check, i, b, file_size) for i, b in enumerate(buffers)]
    if sizes[0]:
        check.fail("buffers[0]", "the sentinel buffer must be empty")
    tensors = model.tensors or []
    for i, tensor in enumerate(tensors):
        _verify_tensor(check, f"tensors[{i}]", tensor, sizes)
    kernels = model.kernels or []
    for i, kernel in enumerate(kernels):
        verify_kernel(kernel, f"kernels[{i}]", source)
    for i, segment in enumerate(model.hostSegments or []):
        where = f"host_segments[{i}]"
        check.index(segment.buffer, len(buffers), where, "buffer")
        if segment.format not in (fb.HostFormat.GRAPH_DEF, fb.HostFormat.HLO_MODULE):
            check.fail(where, f"unknown host format {segment.format}")
    for i, subgraph in enumerate(model.subgraphs or []):
        _verify_subgraph(check, f"subgraphs[{i}]", subgraph, model)
    keys = set()
    for i, signature in enumerate(model.signatureDefs or []):
        where = f"signature_defs[{i}]"
        check.index(signature.subgraph, _count(model.subgraphs), where, "subgraph")
        for j, item in enumerate((signature.inputs or []) + (signature.outputs or [])):
            check.index(item.tensor, len(tensors), f"{where} tensor map {j}", "tensor")
        if signature.key in keys:
            check.fail(where, f"a second signature {_text(signature.key)!r}")
        keys.add(signature.key)
        _verify_dataflow(check, where, signature, model.subgraphs[signature.subgraph], tensors)
    for i, entry in enumerate(model.metadata or []):
        where = f"metadata[{i}]"
        check.index(entry.buffer, len(buffers), where, "buffer")
        if entry.name == MIN_RUNTIME_VERSION:
            _verify_runtime_version(check, where, buffers[entry.buffer], file)


def _verify_dataflow(check: _Checker, where: str, signature: fb.SignatureDefT, subgraph: fb.SubGraphT,
                     tensors: Sequence[fb.TensorT]) -> None:
    """Every operator reads what exists when it runs (a signature input, a constant or an
    earlier operator's output) and writes something else; every signature output is written
    (an intermediate tensor may be one); names are unique."""
    for kind, maps in (("input", signature.inputs or []), ("output", signature.outputs or [])):
        names = [_text(m.name) for m in maps]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            check.fail(where, f"two {kind}s named {twice[0]!r}")
    fed = {m.tensor for m in signature.inputs or []}
    ready = fed | {t for t, tensor in enumerate(tensors) if tensor.buffer}
    for j, op in enumerate(subgraph.operators or []):
        op_where = f"{where} operator {j}"
        missing = [t for t in _ints(op.inputs) if t not in ready]
        if missing:
            check.fail(op_where, f"reads tensor {missing[0]}, which is no signature input, constant or output of "
                                 f"an earlier operator")
        outputs = _ints(op.outputs)
        if not outputs:
            check.fail(op_where, "writes no tensor")
        clobbered = [t for t in outputs if t in fed or tensors[t].buffer]
        if clobbered:
            check.fail(op_where, f"writes tensor {clobbered[0]}, a signature input or a constant")
        ready.update(outputs)
    unwritten = [m for m in signature.outputs or [] if m.tensor not in ready]
    if unwritten:
        check.fail(where, f"output {_text(unwritten[0].name)!r} (tensor {unwritten[0].tensor}) is written by no "
                          f"operator")


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _verify_buffer(check: _Checker, i: int, buffer: fb.BufferT, file_size: int | None) -> int:
    where = f"buffers[{i}]"
    inline = 0 if buffer.data is None else len(buffer.data)
    offset, size = int(buffer.offset or 0), int(buffer.size or 0)
    if offset and inline and file_size is not None:
        check.fail(where, "has both inline data and an external offset")
    if offset == 0 and size:
        check.fail(where, f"size {size} without an offset")
    if offset and file_size is not None and offset % EXTERNAL_ALIGNMENT:
        check.fail(where, f"external data offset {offset} is not {EXTERNAL_ALIGNMENT}-byte aligned")
    if offset and file_size is not None and offset + size > file_size:
        check.fail(where, f"external data at offset {offset} (+{size} bytes) runs past the end of the "
                          f"{file_size}-byte file (truncated?)")
    return max(inline, size)


def _verify_tensor(check: _Checker, where: str, tensor: fb.TensorT, sizes: Sequence[int]) -> None:
    element = dtypes.TENSOR_BY_CODE.get(tensor.dtype)
    if element is None:
        check.fail(where, f"unknown dtype {tensor.dtype}")
    shape = _ints(tensor.shape)
    signature = _ints(tensor.shapeSignature)
    if any(d < 0 for d in shape):
        check.fail(where, f"negative dimension in shape {shape}")
    if signature and (len(signature) != len(shape) or any(s not in (-1, d) for s, d in zip(signature, shape))):
        check.fail(where, f"shape_signature {signature} does not match shape {shape}")
    buffer = check.index(tensor.buffer or 0, len(sizes), where, "buffer")
    if buffer:
        if element is dtypes.STRING:
            check.fail(where, "a string tensor cannot hold constant data")
        if -1 in signature:
            check.fail(where, "a constant tensor cannot have run-time dimensions")
        expected = math.prod(shape) * element.itemsize
        if sizes[buffer] != expected:
            check.fail(where, f"buffer {buffer} holds {sizes[buffer]} bytes, shape {shape} of "
                              f"{element.name} needs {expected}")


def _verify_subgraph(check: _Checker, where: str, subgraph: fb.SubGraphT, model: fb.ModelT) -> None:
    tensors = model.tensors or []
    for name in ("inputs", "outputs"):
        for t in _ints(getattr(subgraph, name)):
            check.index(t, len(tensors), f"{where}.{name}", "tensor")
    for j, op in enumerate(subgraph.operators or []):
        op_where = f"{where}.operators[{j}]"
        inputs, outputs = _ints(op.inputs), _ints(op.outputs)
        for t in inputs + outputs:
            check.index(t, len(tensors), op_where, "tensor")
        offset, count = int(op.coreOffset or 0), int(op.coreCount or 0)
        if offset < 0 or count < 0:
            check.fail(op_where, f"negative core range (core_offset {offset}, core_count {count})")
        if (offset or count) and op.kind != fb.OperatorKind.KERNEL:
            check.fail(op_where, f"a core range (core_offset {offset}, core_count {count}) on a host segment; "
                                 f"only kernel operators have one")
        if offset and not count:
            check.fail(op_where, f"core_offset {offset} without a core_count (0 means all cores, from core 0)")
        if op.kind == fb.OperatorKind.KERNEL:
            kernel = model.kernels[check.index(op.index, _count(model.kernels), op_where, "kernel")]
            slots = kernel.slots or []
            if len(inputs) + len(outputs) != len(slots):
                check.fail(op_where, f"binds {len(inputs) + len(outputs)} tensors to a kernel with {len(slots)} slots")
            for k, (t, slot) in enumerate(zip(inputs + outputs, slots)):
                if tensors[t].dtype != slot.dtype:
                    check.fail(op_where, f"tensor {t} has dtype {_dtype_name(tensors[t].dtype)} but slot {k} "
                                         f"wants {_dtype_name(slot.dtype)}")
                if len(_ints(tensors[t].shape)) != slot.rank:
                    check.fail(op_where, f"tensor {t} has rank {len(_ints(tensors[t].shape))} but slot {k} "
                                         f"wants {slot.rank}")
                if (k >= len(inputs)) != (slot.access == fb.SlotAccess.WRITE):
                    check.fail(op_where, f"slot {k}: inputs bind READ slots and outputs WRITE slots")
        elif op.kind == fb.OperatorKind.HOST_SEGMENT:
            check.index(op.index, _count(model.hostSegments), op_where, "host segment")
        else:
            check.fail(op_where, f"unknown operator kind {op.kind}")


def _dtype_name(code) -> str:
    element = dtypes.TENSOR_BY_CODE.get(code)
    return element.name if element else f"<{code}>"


def _verify_runtime_version(check: _Checker, where: str, buffer: fb.BufferT, file) -> None:
    data = buffer.data
    if buffer.offset and file is not None:  # stored after the FlatBuffer; the range is already checked
        data = np.frombuffer(file, dtype=np.uint8, count=buffer.size, offset=buffer.offset)
    try:
        text = bytes(np.asarray(data, dtype=np.uint8)).decode("ascii")
        required = parse_version(text)
    except (ValueError, TypeError):
        check.fail(where, "min_runtime_version is not a dotted version string")
    if required > RUNTIME_VERSION:
        check.fail(where, f"needs runtime {'.'.join(map(str, required))}, this is "
                          f"{'.'.join(map(str, RUNTIME_VERSION))}")


# ---------------------------------------------------------------------------
# kernels


def verify_kernel(kernel: fb.KernelT, where: str, source: str) -> tuple[list[Instruction], list[Instruction]]:
    """Checks a kernel and returns its decoded (access, execute) programs."""
    check = _Checker(source)
    name = kernel.name or ""
    where = f"{where} {name!r}" if name else where
    if (kernel.version or 0) < 1 or kernel.version > KERNEL_VERSION:
        check.fail(where, f"kernel version {kernel.version} is not supported (this runtime: 1..{KERNEL_VERSION})")
    machine = check.required(kernel.machine, where, "machine parameters")
    slots = kernel.slots or []
    for i, slot in enumerate(slots):
        _verify_slot(check, f"{where} slot {i}", slot, _count(kernel.params))
    if kernel.copies > 1 and kernel.version < 3:
        check.fail(where, f"{kernel.copies} copies need kernel version 3 (a version-2 runtime would run one)")
    if kernel.copies > 1024:
        check.fail(where, f"{kernel.copies} copies; at most 1024")
    for i, param in enumerate(kernel.params or []):
        _verify_param(check, f"{where} param {i}", param, slots, kernel.version or 0)
    for t, table in enumerate(kernel.jumpTables or []):
        for target in _ints(table.targets):
            check.index(target, _count(kernel.executeCode), f"{where} jump table {t}", "jump target")
    access = _decode_program(check, where, "access_code", kernel.accessCode, Unit.ACCESS)
    execute = _decode_program(check, where, "execute_code", kernel.executeCode, Unit.EXECUTE)
    if access and not machine.hasAccessUnit:
        check.fail(where, f"has access-unit code but targets machine {machine.name!r} without an access unit")
    if not execute:
        check.fail(where, "execute_code is empty")
    _AccessChecker(check, where, kernel).run(access)
    _verify_execute(check, where, kernel, execute)
    return access, execute


PLACEMENT_NAMES = {fb.Placement.DRAM: "dram", fb.Placement.SCRATCHPAD: "scratchpad", fb.Placement.BUFFER: "buffer",
                   fb.Placement.HOT: "hot"}

# Slot dtypes an ELEMENT param may read.
ELEMENT_PARAM_DTYPES = (dtypes.BY_NAME["int32"].code, dtypes.BY_NAME["int64"].code)


def _verify_param(check: _Checker, where: str, param: fb.KernelParamT, slots: Sequence[fb.KernelSlotT],
                  kernel_version: int) -> None:
    kind = param.kind
    if kind == fb.ParamKind.COPY:
        if kernel_version < 3:
            check.fail(where, "a copy parameter needs kernel version 3")
        if param.slot or param.dim or param.add or param.element:
            check.fail(where, "a copy parameter reads no slot (slot, dim, add and element are 0)")
        return
    slot = slots[check.index(param.slot, len(slots), where, "slot")]
    if kind == fb.ParamKind.DIM:
        if slot.access != fb.SlotAccess.READ:
            check.fail(where, "a parameter reads the shape of an input slot, not an output")
        if param.dim < 0 or param.dim >= slot.rank:
            check.fail(where, f"dimension {param.dim} outside rank {slot.rank}")
        if param.element:
            check.fail(where, f"a dimension parameter has element 0, not {param.element}")
    elif kind == fb.ParamKind.ELEMENT:
        if slot.access != fb.SlotAccess.READ:
            check.fail(where, f"an element parameter reads an input slot, not output slot {slot.name!r}")
        if slot.dtype not in ELEMENT_PARAM_DTYPES:
            check.fail(where, f"an element parameter reads an int32 or int64 slot, not {slot.name!r} "
                              f"({_dtype_name(slot.dtype)})")
        if param.dim:
            check.fail(where, f"an element parameter has dim 0, not {param.dim}")
        if kernel_version < 2:
            check.fail(where, "an element parameter needs kernel version 2 (a version-1 runtime would read it "
                              "as a dimension)")
    else:
        check.fail(where, f"unknown parameter kind {kind} (0: DIM, 1: ELEMENT, 2: COPY)")


def _verify_slot(check: _Checker, where: str, slot: fb.KernelSlotT, n_params: int) -> None:
    if slot.dtype not in dtypes.BY_CODE:
        check.fail(where, f"unknown dtype {slot.dtype}")
    if slot.rank < 0:
        check.fail(where, f"negative rank {slot.rank}")
    shape = _ints(slot.shape)
    placement = slot.placement or 0
    if placement not in PLACEMENT_NAMES:
        check.fail(where, f"unknown placement {placement} (0: DRAM, 1: SCRATCHPAD, 2: BUFFER, 3: HOT)")
    hot_rows = slot.hotRows or 0
    if hot_rows < 0 or (hot_rows and placement != fb.Placement.HOT):
        check.fail(where, f"hot_rows {hot_rows} on a slot that is not placed in the hot storage"
                          if hot_rows > 0 else f"negative hot_rows {hot_rows}")
    if placement and slot.access != fb.SlotAccess.READ:
        check.fail(where, f"{PLACEMENT_NAMES[placement]} placement on output slot {_text(slot.name)!r}: only "
                          f"read-only slots may leave DRAM")
    if slot.access == fb.SlotAccess.WRITE:
        if len(shape) != slot.rank:
            check.fail(where, f"output shape {shape} does not have rank {slot.rank}")
        for d in shape:
            if d < 0:
                check.index(-d - 1, n_params, where, "shape parameter")
    elif slot.access == fb.SlotAccess.READ:
        if shape:
            check.fail(where, "an input slot declares no shape")
    else:
        check.fail(where, f"unknown slot access {slot.access}")


def _decode_program(check: _Checker, where: str, name: str, words, unit: Unit) -> list[Instruction]:
    program = []
    for pc, word in enumerate(words if words is not None else []):
        try:
            instruction = decode(word)
        except ValueError as e:
            check.fail(f"{where} {name}[{pc}]", str(e))
        if instruction.spec.unit is not unit:
            check.fail(f"{where} {name}[{pc}]", f"{instruction.mnemonic} is not an {unit.value}-unit instruction")
        program.append(instruction)
    return program


def _verify_execute(check: _Checker, where: str, kernel: fb.KernelT, program: list[Instruction]) -> None:
    limits = {
        Kind.SLOT: (_count(kernel.slots), "slot"),
        Kind.LABEL: (len(program), "label"),
        Kind.ICONST: (_count(kernel.intConstants), "int constant"),
        Kind.FCONST: (_count(kernel.floatConstants), "float constant"),
        Kind.JTABLE: (_count(kernel.jumpTables), "jump table"),
        Kind.PARAM: (_count(kernel.params), "param"),
    }
    for pc, instruction in enumerate(program):
        at = f"{where} execute_code[{pc}] {instruction.mnemonic}"
        for operand, value in zip(instruction.spec.operands, instruction.args):
            if operand.kind in limits:
                count, what = limits[operand.kind]
                check.index(value, count, at, what)
        if any(o.kind is Kind.SLOT for o in instruction.spec.operands):
            slot = kernel.slots[instruction.arg("slot")]
            if slot.dtype != instruction.arg("dtype"):
                check.fail(at, f"dtype {dtypes.BY_CODE[instruction.arg('dtype')].suffix} does not match slot "
                               f"{slot.name!r} ({_dtype_name(slot.dtype)})")
            if instruction.mnemonic in STORES and slot.access != fb.SlotAccess.WRITE:
                check.fail(at, f"stores into input slot {slot.name!r}")
    if program[-1].mnemonic not in ("halt", "jmp", "br.tab"):
        check.fail(f"{where} execute_code[{len(program) - 1}]", "the program can run off its end")


class _AccessChecker:
    """Checks the access-unit configuration as a dataflow graph: TUs form a
    forest, every stream belongs to a defined TU and reads only streams of
    its own TU or an ancestor's, and marshal rules push values that exist
    at their event."""

    def __init__(self, check: _Checker, where: str, kernel: fb.KernelT):
        self.check, self.where, self.kernel = check, where, kernel
        self.parent: dict[int, int | None] = {}
        self.width: dict[int, int] = {}
        self.stream_tu: dict[int, int] = {}
        self.buffered: set[int] = set()
        self.grouped: set[int] = set()

    def ancestors(self, tu: int) -> list[int]:
        chain = [tu]
        while self.parent[chain[-1]] is not None:
            chain.append(self.parent[chain[-1]])
        return chain

    def src(self, at: str, src: Src | None, allowed_tus: list[int], what: str, scalar: bool = False) -> None:
        if src is None:
            return
        if src.kind is SrcKind.PARAM:
            self.check.index(src.value, _count(self.kernel.params), at, "param")
        elif src.kind is SrcKind.CONST:
            self.check.index(src.value, _count(self.kernel.intConstants), at, "int constant")
        elif src.kind is SrcKind.STREAM:
            owner = self.stream_tu.get(src.value)
            if owner is None:
                self.check.fail(at, f"{what} reads stream s{src.value} before it is defined")
            if owner not in allowed_tus:
                self.check.fail(at, f"{what} reads s{src.value} of t{owner}, which is not this TU or an ancestor")
            if src.value in self.buffered:
                self.check.fail(at, f"{what} reads buffer stream s{src.value}; buffers only go to the core")
            if scalar and self.width[owner] > 1:
                self.check.fail(at, f"{what} must be a scalar but s{src.value} is a vector stream")

    def run(self, program: list[Instruction]) -> None:
        machine = self.kernel.machine
        for pc, ins in enumerate(program):
            at = f"{self.where} access_code[{pc}] {ins.mnemonic}"
            name = ins.mnemonic
            if name in ("tu.dns", "tu.rng", "tu.idx"):
                tu, parent, width = ins.arg("tu"), ins.arg("parent"), ins.arg("width")
                if tu in self.parent:
                    self.check.fail(at, f"t{tu} is defined twice")
                if parent is not None and parent not in self.parent:
                    self.check.fail(at, f"parent t{parent} is not defined")
                if not 1 <= width <= MAX_VECTOR_WIDTH:
                    self.check.fail(at, f"width {width} outside 1..{MAX_VECTOR_WIDTH}")
                outer = self.ancestors(parent) if parent is not None else []
                bounds = [ins.args[3], ins.args[4]]
                for label, src in zip(("lb", "ub" if name != "tu.idx" else "size"), bounds):
                    self.src(at, src, outer, label, scalar=True)
                streams = [s for s in bounds if s.kind is SrcKind.STREAM]
                if name == "tu.dns" and streams:
                    self.check.fail(at, "a dense TU has constant bounds; use tu.rng for stream bounds")
                if name == "tu.idx" and bounds[0].kind is not SrcKind.STREAM:
                    self.check.fail(at, "an index TU starts at a stream")
                self.parent[tu], self.width[tu] = parent, width
            elif name == "tu.group":
                tu = self.defined_tu(at, ins.arg("tu"))
                if tu in self.grouped:
                    self.check.fail(at, f"t{tu} is grouped twice")
                self.grouped.add(tu)
                if ins.arg("layer") >= max(1, machine.traversalGroups):
                    self.check.fail(at, f"layer {ins.arg('layer')} exceeds the machine's "
                                        f"{machine.traversalGroups} traversal groups")
                if not 1 <= ins.arg("lanes") <= max(1, machine.lanes):
                    self.check.fail(at, f"{ins.arg('lanes')} lanes exceed the machine's {machine.lanes}")
            elif name.startswith("str."):
                stream, tu = ins.arg("stream"), self.defined_tu(at, ins.arg("tu"))
                if stream in self.stream_tu:
                    self.check.fail(at, f"s{stream} is defined twice")
                chain = self.ancestors(tu)
                for operand, value in zip(ins.spec.operands, ins.args):
                    if operand.kind in (Kind.SRC, Kind.SRC_OR_NONE):
                        self.src(at, value, [tu] if name == "str.buf" else chain, operand.name)
                if name == "str.mem":
                    self.check.index(ins.arg("slot"), _count(self.kernel.slots), at, "slot")
                    if self.kernel.slots[ins.arg("slot")].access != fb.SlotAccess.READ:
                        self.check.fail(at, "the access unit only reads input slots")
                if name == "str.buf":
                    if ins.arg("src").kind is not SrcKind.STREAM:
                        self.check.fail(at, "buffers collect a stream")
                    self.buffered.add(stream)
                self.stream_tu[stream] = tu
            elif name in ("mar.opnd", "mar.cb"):
                tu, event = self.defined_tu(at, ins.arg("tu")), Event(ins.arg("event"))
                if name == "mar.opnd":
                    stream = ins.arg("stream")
                    owner = self.stream_tu.get(stream)
                    if owner is None:
                        self.check.fail(at, f"stream s{stream} is not defined")
                    if owner not in self.ancestors(tu):
                        self.check.fail(at, f"s{stream} belongs to t{owner}, not t{tu} or an ancestor")
                    if stream in self.buffered:
                        if owner != tu or event is not Event.END:
                            self.check.fail(at, "a buffer stream is pushed at the end event of its own TU")
                    elif owner == tu and event is not Event.ITE:
                        self.check.fail(at, f"s{stream} of t{tu} has a value only at t{tu}'s ite event")

    def defined_tu(self, at: str, tu: int) -> int:
        if tu not in self.parent:
            self.check.fail(at, f"t{tu} is not defined")
        return tu
