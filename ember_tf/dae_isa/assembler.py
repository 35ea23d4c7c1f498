"""Assemble .dasm text into a model (the object model the writer serializes).

The format is line oriented; `;` starts a comment. docs/ISA.md describes it
in full; in short, model-level directives declare buffers, tensors,
subgraphs, signatures and metadata, and each `.kernel` block declares its
machine, slots, params and constant pools, then its `.access` configuration
and `.execute` program, one instruction per line:

    .kernel "gather_rows" version=1
    .machine "tmu" lanes=8 ...
    .slot ids int32 rank=1 read
    .access
      tu.dns t0, parent=none, width=1, lb=0, ub=p0
    .execute
    loop: cb.pop x1
      br.tab x1, jt0
    .end
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from typing import Callable

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.encoding import Instruction, Src, encode
from ember_tf.dae_isa.opcodes import (
    BY_MNEMONIC,
    DTYPE_KINDS,
    REGISTER_COUNTS,
    AluOp,
    Event,
    GroupMode,
    Kind,
    Operand,
    OpcodeSpec,
    SrcKind,
    Unit,
)
from ember_tf.errors import AssemblyError

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<list>\[[^\]]*\])
      | (?P<word>[^\s,=\[\]"]+)
      | (?P<punct>[,=])
    )""",
    re.VERBOSE,
)

HOST_FORMATS = {"graph_def": fb.HostFormat.GRAPH_DEF, "hlo_module": fb.HostFormat.HLO_MODULE}
OPERATOR_KINDS = {"kernel": fb.OperatorKind.KERNEL, "host_segment": fb.OperatorKind.HOST_SEGMENT}
ACCESS = {"read": fb.SlotAccess.READ, "write": fb.SlotAccess.WRITE}
PLACEMENTS = {"dram": fb.Placement.DRAM, "scratchpad": fb.Placement.SCRATCHPAD, "buffer": fb.Placement.BUFFER,
              "hot": fb.Placement.HOT}
# `.operator kernel ... cores=OFFSET+COUNT`: the kernel runs on cores OFFSET .. OFFSET+COUNT-1
CORE_RANGE = re.compile(r"(\d+)\+(\d+)")
MACHINE_FIELDS = ("lanes", "traversal_groups", "lane_storage_bytes", "outstanding_requests", "vector_bytes",
                  "queue_chunk_bytes")


@dataclasses.dataclass
class _Token:
    kind: str
    text: str
    column: int


@dataclasses.dataclass
class _Line:
    number: int
    label: str | None
    head: _Token | None
    positional: list[_Token]
    keywords: dict[str, _Token]


class _Source:
    def __init__(self, text: str, name: str):
        self.text, self.name = text, name

    def error(self, line: int, column: int, problem: str) -> AssemblyError:
        return AssemblyError(f"{self.name}:{line}:{column}: {problem}")

    def lines(self):
        for number, raw in enumerate(self.text.splitlines(), start=1):
            yield self._split(number, raw)

    def _split(self, number: int, raw: str) -> _Line | None:
        tokens, pos = [], 0
        code = raw
        while pos < len(code):
            if code[pos:].lstrip().startswith(";") or not code[pos:].strip():
                break
            match = _TOKEN.match(code, pos)
            if match is None or match.end() == pos:
                raise self.error(number, pos + 1, f"cannot read {code[pos:].strip()[:20]!r}")
            kind = match.lastgroup
            tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
            pos = match.end()
        if not tokens:
            return None
        label = None
        if tokens[0].kind == "word" and tokens[0].text.endswith(":"):
            label = tokens.pop(0).text[:-1]
        head = tokens.pop(0) if tokens else None
        positional, keywords, i = [], {}, 0
        while i < len(tokens):
            token = tokens[i]
            if token.kind == "punct" and token.text == ",":
                i += 1
                continue
            if i + 1 < len(tokens) and tokens[i + 1].text == "=":
                if i + 2 >= len(tokens):
                    raise self.error(number, token.column, f"'{token.text}=' has no value")
                if token.text in keywords:
                    raise self.error(number, token.column, f"'{token.text}=' given twice")
                keywords[token.text] = tokens[i + 2]
                i += 3
                continue
            if token.kind == "punct":
                raise self.error(number, token.column, f"unexpected '{token.text}'")
            positional.append(token)
            i += 1
        return _Line(number, label, head, positional, keywords)


class _Assembler:
    def __init__(self, text: str, name: str):
        self.source = _Source(text, name)
        self.model = fb.ModelT()
        self.model.version, self.model.description = 1, ""
        empty = fb.BufferT()
        empty.data, empty.offset, empty.size = np.zeros(0, np.uint8), 0, 0
        self.model.buffers = [empty]
        for field in ("tensors", "kernels", "hostSegments", "subgraphs", "signatureDefs", "metadata"):
            setattr(self.model, field, [])
        self.kernel: _KernelAssembler | None = None
        self.line: _Line | None = None

    # -- token helpers ----------------------------------------------------
    def fail(self, token: _Token | None, problem: str) -> AssemblyError:
        column = token.column if token is not None else 1
        return self.source.error(self.line.number, column, problem)

    def string(self, token: _Token) -> str:
        if token.kind != "string":
            raise self.fail(token, f"expected a quoted string, found {token.text!r}")
        return json.loads(token.text)

    def integer(self, token: _Token) -> int:
        try:
            return int(token.text, 0)
        except ValueError:
            raise self.fail(token, f"expected an integer, found {token.text!r}") from None

    def int_list(self, token: _Token, item: Callable[[str, _Token], int] | None = None) -> list[int]:
        if token.kind != "list":
            raise self.fail(token, f"expected a [list], found {token.text!r}")
        body = token.text[1:-1].strip()
        parts = [p.strip() for p in body.split(",")] if body else []
        values = []
        for part in parts:
            sub = _Token("word", part, token.column)
            values.append(item(part, sub) if item else self.integer(sub))
        return values

    def string_list(self, token: _Token) -> list[str]:
        if token.kind != "list":
            raise self.fail(token, f"expected a [list], found {token.text!r}")
        try:
            values = json.loads(token.text)
        except json.JSONDecodeError:
            raise self.fail(token, "expected a list of quoted strings") from None
        if not all(isinstance(v, str) for v in values):
            raise self.fail(token, "expected a list of quoted strings")
        return values

    def keyword(self, name: str, required: bool = True) -> _Token | None:
        token = self.line.keywords.get(name)
        if token is None and required:
            raise self.fail(self.line.head, f"{self.line.head.text} needs {name}=")
        return token

    def positional(self, count: int) -> list[_Token]:
        if len(self.line.positional) != count:
            raise self.fail(self.line.head, f"{self.line.head.text} takes {count} positional operand(s), "
                                            f"found {len(self.line.positional)}")
        return self.line.positional

    def check_keywords(self, allowed: tuple[str, ...]) -> None:
        for key, token in self.line.keywords.items():
            if key not in allowed:
                raise self.fail(token, f"{self.line.head.text} has no '{key}='")

    def sequential(self, token: _Token, prefix: str, count: int) -> None:
        if token.text != f"{prefix}{count}":
            raise self.fail(token, f"expected {prefix}{count} here (declarations are numbered in order)")

    # -- driver -------------------------------------------------------------
    def run(self) -> fb.ModelT:
        for line in self.source.lines():
            if line is None:
                continue
            self.line = line
            if line.head is None:
                if self.kernel is None or self.kernel.section != "execute":
                    raise self.fail(None, "a label outside an .execute section")
                self.kernel.label(line.label)
                continue
            head = line.head.text
            if head.startswith("."):
                handler = getattr(self, "_d_" + head[1:], None)
                if self.kernel is not None and head in _KernelAssembler.DIRECTIVES:
                    self.kernel.directive(head)
                elif handler is None:
                    raise self.fail(line.head, f"unknown directive {head}")
                else:
                    if self.kernel is not None:
                        raise self.fail(line.head, f"{head} inside a kernel (close it with .end)")
                    handler()
            elif self.kernel is None:
                raise self.fail(line.head, f"instruction {head!r} outside a .kernel")
            else:
                self.kernel.instruction()
        if self.kernel is not None:
            raise AssemblyError(f"{self.source.name}: kernel '{self.kernel.kernel.name}' has no .end")
        return self.model

    # -- model-level directives -------------------------------------------
    def _d_model(self) -> None:
        self.positional(0)
        self.check_keywords(("version", "description"))
        self.model.version = self.integer(self.keyword("version"))
        token = self.keyword("description", required=False)
        self.model.description = self.string(token) if token else ""

    def _d_buffer(self) -> None:
        index_token, = self.positional(1)
        self.check_keywords(("data", "external"))
        self.sequential(index_token, "", len(self.model.buffers))
        buffer = fb.BufferT()
        data_token = self.keyword("data")
        try:
            raw = base64.b64decode(self.string(data_token), validate=True)
        except ValueError:
            raise self.fail(data_token, "data is not valid base64") from None
        buffer.data = np.frombuffer(raw, dtype=np.uint8)
        external = self.keyword("external", required=False)
        buffer.offset = 1 if external is not None and self._bool(external) else 0
        buffer.size = 0
        self.model.buffers.append(buffer)

    def _bool(self, token: _Token) -> bool:
        if token.text not in ("true", "false"):
            raise self.fail(token, "expected true or false")
        return token.text == "true"

    def dtype(self, token: _Token) -> int:
        element = dtypes.BY_NAME.get(token.text)
        if element is None:
            raise self.fail(token, f"unknown dtype {token.text!r}")
        return element.code

    def _d_tensor(self) -> None:
        index_token, name_token = self.positional(2)
        self.check_keywords(("dtype", "shape", "signature", "buffer"))
        self.sequential(index_token, "", len(self.model.tensors))
        tensor = fb.TensorT()
        tensor.name = self.string(name_token)
        tensor.dtype = self.dtype(self.keyword("dtype"))
        tensor.shape = self.int_list(self.keyword("shape"))
        signature = self.keyword("signature", required=False)
        tensor.shapeSignature = self.int_list(signature) if signature else list(tensor.shape)
        buffer = self.keyword("buffer", required=False)
        tensor.buffer = self.integer(buffer) if buffer else 0
        self.model.tensors.append(tensor)

    def _d_host_segment(self) -> None:
        index_token, name_token = self.positional(2)
        self.check_keywords(("format", "buffer", "inputs", "outputs"))
        self.sequential(index_token, "", len(self.model.hostSegments))
        segment = fb.HostSegmentT()
        segment.name = self.string(name_token)
        fmt = self.keyword("format")
        if fmt.text not in HOST_FORMATS:
            raise self.fail(fmt, f"unknown host format {fmt.text!r}")
        segment.format = HOST_FORMATS[fmt.text]
        segment.buffer = self.integer(self.keyword("buffer"))
        segment.inputNames = self.string_list(self.keyword("inputs"))
        segment.outputNames = self.string_list(self.keyword("outputs"))
        self.model.hostSegments.append(segment)

    def _d_subgraph(self) -> None:
        name_token, = self.positional(1)
        self.check_keywords(("inputs", "outputs"))
        subgraph = fb.SubGraphT()
        subgraph.name = self.string(name_token)
        subgraph.inputs = self.int_list(self.keyword("inputs"))
        subgraph.outputs = self.int_list(self.keyword("outputs"))
        subgraph.operators = []
        self.model.subgraphs.append(subgraph)

    def _d_operator(self) -> None:
        kind_token, index_token = self.positional(2)
        self.check_keywords(("inputs", "outputs", "cores"))
        if not self.model.subgraphs:
            raise self.fail(kind_token, ".operator before any .subgraph")
        if kind_token.text not in OPERATOR_KINDS:
            raise self.fail(kind_token, f"unknown operator kind {kind_token.text!r}")
        op = fb.OperatorT()
        op.kind, op.index = OPERATOR_KINDS[kind_token.text], self.integer(index_token)
        op.inputs = self.int_list(self.keyword("inputs"))
        op.outputs = self.int_list(self.keyword("outputs"))
        cores = self.keyword("cores", required=False)
        if cores is not None:
            if op.kind != fb.OperatorKind.KERNEL:
                raise self.fail(cores, "cores= belongs to kernel operators (a host segment uses every core)")
            op.coreOffset, op.coreCount = self._core_range(cores)
        self.model.subgraphs[-1].operators.append(op)

    def _core_range(self, token: _Token) -> tuple[int, int]:
        match = CORE_RANGE.fullmatch(token.text)
        if match is None:
            raise self.fail(token, f"expected cores=OFFSET+COUNT (e.g. cores=2+3: cores 2, 3 and 4), "
                                   f"found {token.text!r}")
        offset, count = int(match.group(1)), int(match.group(2))
        if count == 0:
            raise self.fail(token, "cores=OFFSET+0 runs on no core (leave cores= out to use every core)")
        if offset + count > 0xFFFFFFFF:
            raise self.fail(token, f"core range {token.text} does not fit 32 bits")
        return offset, count

    def _d_signature(self) -> None:
        key_token, = self.positional(1)
        self.check_keywords(("subgraph",))
        signature = fb.SignatureDefT()
        signature.key = self.string(key_token)
        signature.subgraph = self.integer(self.keyword("subgraph"))
        signature.inputs, signature.outputs = [], []
        self.model.signatureDefs.append(signature)

    def _tensor_map(self, target: str) -> None:
        name_token, tensor_token = self.positional(2)
        self.check_keywords(())
        if not self.model.signatureDefs:
            raise self.fail(name_token, f".{target[:-1]} before any .signature")
        item = fb.TensorMapT()
        item.name, item.tensor = self.string(name_token), self.integer(tensor_token)
        getattr(self.model.signatureDefs[-1], target).append(item)

    def _d_input(self) -> None:
        self._tensor_map("inputs")

    def _d_output(self) -> None:
        self._tensor_map("outputs")

    def _d_metadata(self) -> None:
        name_token, = self.positional(1)
        self.check_keywords(("buffer",))
        entry = fb.MetadataT()
        entry.name, entry.buffer = self.string(name_token), self.integer(self.keyword("buffer"))
        self.model.metadata.append(entry)

    def _d_kernel(self) -> None:
        self.kernel = _KernelAssembler(self)


class _KernelAssembler:
    DIRECTIVES = (".machine", ".slot", ".param", ".const", ".fconst", ".jumptable", ".access", ".execute", ".end")

    def __init__(self, asm: _Assembler):
        self.asm = asm
        name_token, = asm.positional(1)
        asm.check_keywords(("version", "copies"))
        kernel = fb.KernelT()
        kernel.name = asm.string(name_token)
        version = asm.keyword("version", required=False)
        kernel.version = asm.integer(version) if version else 1
        copies = asm.keyword("copies", required=False)
        kernel.copies = asm.integer(copies) if copies else 1
        kernel.slots, kernel.params, kernel.jumpTables = [], [], []
        self.kernel = kernel
        self.int_constants: list[int] = []
        self.float_constants: list[float] = []
        self.section = "header"
        self.access: list[tuple[_Line, OpcodeSpec, str]] = []
        self.execute: list[tuple[_Line, OpcodeSpec, str]] = []
        self.labels: dict[str, int] = {}
        self.jump_tables: list[tuple[_Line, list[_Token]]] = []

    def directive(self, head: str) -> None:
        asm = self.asm
        if head in (".access", ".execute"):
            asm.positional(0)
            order = ("header", "access", "execute")
            if order.index(head[1:]) <= order.index(self.section):
                raise asm.fail(asm.line.head, f"{head} must come once, after the declarations "
                                              "(and .access before .execute)")
            self.section = head[1:]
            return
        if head == ".end":
            asm.positional(0)
            self.finish()
            return
        if self.section != "header":
            raise asm.fail(asm.line.head, f"{head} belongs before .access and .execute")
        getattr(self, "_d_" + head[1:])()

    def _d_machine(self) -> None:
        asm = self.asm
        name_token, = asm.positional(1)
        asm.check_keywords(MACHINE_FIELDS + ("access_unit",))
        machine = fb.MachineParamsT()
        machine.name = asm.string(name_token)
        machine.lanes, machine.traversalGroups, machine.laneStorageBytes, machine.outstandingRequests, \
            machine.vectorBytes, machine.queueChunkBytes = (asm.integer(asm.keyword(f)) for f in MACHINE_FIELDS)
        machine.hasAccessUnit = asm._bool(asm.keyword("access_unit"))
        self.kernel.machine = machine

    def slot_index(self, token: _Token) -> int:
        if token.text.startswith("@"):
            return self.asm.integer(_Token("word", token.text[1:], token.column))
        names = [slot.name for slot in self.kernel.slots]
        if token.text not in names:
            raise self.asm.fail(token, f"unknown slot {token.text!r}")
        return names.index(token.text)

    def _d_slot(self) -> None:
        asm = self.asm
        name_token, dtype_token, access_token = asm.positional(3)
        asm.check_keywords(("rank", "shape", "place", "hot_rows"))
        slot = fb.KernelSlotT()
        slot.name = asm.string(name_token) if name_token.kind == "string" else name_token.text
        slot.dtype = asm.dtype(dtype_token)
        slot.rank = asm.integer(asm.keyword("rank"))
        if access_token.text not in ACCESS:
            raise asm.fail(access_token, "expected read or write")
        slot.access = ACCESS[access_token.text]
        shape = asm.keyword("shape", required=False)
        slot.shape = asm.int_list(shape, self._shape_dim) if shape else []
        place = asm.keyword("place", required=False)
        if place is not None:
            if place.text not in PLACEMENTS:
                raise asm.fail(place, f"expected place=dram, scratchpad, buffer or hot, found {place.text!r}")
            slot.placement = PLACEMENTS[place.text]
        hot_rows = asm.keyword("hot_rows", required=False)
        if hot_rows is not None:
            slot.hotRows = asm.integer(hot_rows)
        self.kernel.slots.append(slot)

    def _shape_dim(self, text: str, token: _Token) -> int:
        if text.startswith("p"):
            return -1 - self.asm.integer(_Token("word", text[1:], token.column))
        return self.asm.integer(token)

    def _d_param(self) -> None:
        """.param pN slot=S dim=D [add=A]      dimension D of S's shape, plus A
        .param pN slot=S element=E [add=A]  S's flat element E (negative: from the end), plus A
        .param pN copy                      the index of the running copy (.kernel copies=K)"""
        asm = self.asm
        if len(asm.line.positional) == 2 and asm.line.positional[1].text == "copy":
            name_token = asm.line.positional[0]
            asm.check_keywords(())
            asm.sequential(name_token, "p", len(self.kernel.params))
            param = fb.KernelParamT()
            param.kind = fb.ParamKind.COPY
            self.kernel.params.append(param)
            return
        name_token, = asm.positional(1)
        asm.check_keywords(("slot", "dim", "element", "add"))
        asm.sequential(name_token, "p", len(self.kernel.params))
        param = fb.KernelParamT()
        param.slot = self.slot_index(asm.keyword("slot"))
        dim, element = asm.keyword("dim", required=False), asm.keyword("element", required=False)
        if dim is None and element is None:
            raise asm.fail(asm.line.head, ".param needs dim= (a dimension of the slot's shape) or element= "
                                          "(an element of the slot's tensor)")
        if dim is not None and element is not None:
            raise asm.fail(element, ".param takes dim= or element=, not both")
        if dim is not None:
            param.kind, param.dim = fb.ParamKind.DIM, self._fits(dim, 32)
        else:
            param.kind, param.dim, param.element = fb.ParamKind.ELEMENT, 0, self._fits(element, 64)
        add = asm.keyword("add", required=False)
        param.add = self._fits(add, 64) if add else 0
        self.kernel.params.append(param)

    def _fits(self, token: _Token, bits: int) -> int:
        """The integer of token, which must fit a signed field of `bits` bits."""
        value = self.asm.integer(token)
        if not -(1 << (bits - 1)) <= value < 1 << (bits - 1):
            raise self.asm.fail(token, f"{value} does not fit a signed {bits}-bit field")
        return value

    def _d_const(self) -> None:
        name_token, value_token = self.asm.positional(2)
        self.asm.check_keywords(())
        self.asm.sequential(name_token, "k", len(self.int_constants))
        self.int_constants.append(self.asm.integer(value_token))

    def _d_fconst(self) -> None:
        name_token, value_token = self.asm.positional(2)
        self.asm.check_keywords(())
        self.asm.sequential(name_token, "kf", len(self.float_constants))
        try:
            value = float.fromhex(value_token.text) if "0x" in value_token.text else float(value_token.text)
        except ValueError:
            raise self.asm.fail(value_token, f"expected a number, found {value_token.text!r}") from None
        self.float_constants.append(value)

    def _d_jumptable(self) -> None:
        tokens = self.asm.line.positional
        self.asm.check_keywords(())
        if not tokens:
            raise self.asm.fail(self.asm.line.head, ".jumptable needs a name")
        self.asm.sequential(tokens[0], "jt", len(self.jump_tables))
        self.jump_tables.append((self.asm.line, tokens[1:]))

    def label(self, name: str) -> None:
        if name in self.labels:
            raise self.asm.fail(self.asm.line.head, f"label {name!r} defined twice")
        self.labels[name] = len(self.execute)

    def instruction(self) -> None:
        asm, line = self.asm, self.asm.line
        if self.section not in ("access", "execute"):
            raise asm.fail(line.head, "instructions belong in an .access or .execute section")
        mnemonic, suffix = line.head.text, ""
        if mnemonic not in BY_MNEMONIC and "." in mnemonic:
            mnemonic, suffix = mnemonic.rsplit(".", 1)
        spec = BY_MNEMONIC.get(mnemonic)
        if spec is None:
            raise asm.fail(line.head, f"unknown instruction {mnemonic!r}")
        if (spec.unit is Unit.ACCESS) != (self.section == "access"):
            raise asm.fail(line.head, f"{mnemonic} is an {spec.unit.value}-unit instruction")
        if bool(suffix) != (spec.dtype_operand is not None):
            raise asm.fail(line.head, f"{mnemonic} {'needs a .dtype suffix' if not suffix else 'takes no dtype'}")
        if line.label is not None:
            if self.section != "execute":
                raise asm.fail(line.head, "labels belong in the .execute section")
            self.label(line.label)
        (self.access if self.section == "access" else self.execute).append((line, spec, suffix))

    def finish(self) -> None:
        asm, kernel = self.asm, self.kernel
        if kernel.machine is None:
            raise asm.fail(asm.line.head, f"kernel '{kernel.name}' has no .machine")
        end_line = asm.line
        kernel.jumpTables = []
        for line, targets in self.jump_tables:
            asm.line = line
            table = fb.JumpTableT()
            table.targets = [self.label_target(t) for t in targets]
            kernel.jumpTables.append(table)
        kernel.intConstants = np.array(self.int_constants, dtype=np.int64)
        kernel.floatConstants = np.array(self.float_constants, dtype=np.float64)
        kernel.accessCode = self.encode(self.access)
        kernel.executeCode = self.encode(self.execute)
        asm.line = end_line
        asm.model.kernels.append(kernel)
        asm.kernel = None

    def label_target(self, token: _Token) -> int:
        if token.text not in self.labels:
            raise self.asm.fail(token, f"undefined label {token.text!r}")
        return self.labels[token.text]

    def encode(self, lines: list[tuple[_Line, OpcodeSpec, str]]) -> np.ndarray:
        words = []
        for line, spec, suffix in lines:
            self.asm.line = line
            args = self.operands(line, spec, suffix)
            try:
                words.append(encode(Instruction(spec, args)))
            except ValueError as e:
                raise self.asm.fail(line.head, str(e)) from None
        return np.array(words, dtype=np.uint64)

    def operands(self, line: _Line, spec: OpcodeSpec, suffix: str) -> tuple:
        printed = spec.printed_operands
        if len(line.positional) > len(printed):
            raise self.asm.fail(line.positional[len(printed)], f"{spec.mnemonic} takes {len(printed)} operands")
        given: dict[str, _Token] = {op.name: tok for op, tok in zip(printed, line.positional)}
        for key, token in line.keywords.items():
            if key not in {op.name for op in printed}:
                raise self.asm.fail(token, f"{spec.mnemonic} has no operand '{key}'")
            if key in given:
                raise self.asm.fail(token, f"operand '{key}' given twice")
            given[key] = token
        args = []
        for operand in spec.operands:
            if operand.kind in DTYPE_KINDS:
                element = dtypes.BY_SUFFIX.get(suffix)
                if element is None:
                    raise self.asm.fail(line.head, f"unknown dtype suffix .{suffix}")
                args.append(element.code)
                continue
            token = given.get(operand.name)
            if token is None:
                raise self.asm.fail(line.head, f"{spec.mnemonic} is missing operand '{operand.name}'")
            args.append(self.operand(operand, token))
        return tuple(args)

    def operand(self, operand: Operand, token: _Token):
        kind, text = operand.kind, token.text
        asm = self.asm
        if kind in REGISTER_COUNTS:
            number = self.numbered(token, kind.value)
            if number >= REGISTER_COUNTS[kind]:
                raise asm.fail(token, f"no register {text} ({kind.value}0..{kind.value}{REGISTER_COUNTS[kind] - 1})")
            return number
        if kind in _INDEXED_PREFIX:
            return self.numbered(token, _INDEXED_PREFIX[kind])
        if kind is Kind.TU_OR_NONE:
            return None if text == "none" else self.numbered(token, "t")
        if kind is Kind.SLOT:
            return self.slot_index(token)
        if kind is Kind.LABEL:
            return self.label_target(token)
        if kind in (Kind.SRC, Kind.SRC_OR_NONE):
            if text == "none" and kind is Kind.SRC_OR_NONE:
                return None
            for prefix, src_kind in (("s", SrcKind.STREAM), ("p", SrcKind.PARAM), ("k", SrcKind.CONST)):
                if text.startswith(prefix) and text[1:].isdigit():
                    return Src(src_kind, int(text[1:]))
            return Src(SrcKind.IMM, asm.integer(token))
        for enum_type, enum_kind in ((Event, Kind.EVENT), (AluOp, Kind.ALUOP), (GroupMode, Kind.MODE)):
            if kind is enum_kind:
                try:
                    return int(enum_type[text.upper()])
                except KeyError:
                    names = ", ".join(e.name.lower() for e in enum_type)
                    raise asm.fail(token, f"expected one of {names}, found {text!r}") from None
        return asm.integer(token)

    def numbered(self, token: _Token, prefix: str) -> int:
        text = token.text
        if not (text.startswith(prefix) and text[len(prefix):].isdigit()):
            raise self.asm.fail(token, f"expected {prefix}<number>, found {text!r}")
        return int(text[len(prefix):])


_INDEXED_PREFIX = {Kind.ICONST: "k", Kind.FCONST: "kf", Kind.JTABLE: "jt", Kind.PARAM: "p", Kind.TU: "t",
                   Kind.STREAM: "s"}


def assemble(text: str, source: str = "<dasm>") -> fb.ModelT:
    """The model a .dasm text describes; AssemblyError with file:line:column otherwise."""
    return _Assembler(text, source).run()
