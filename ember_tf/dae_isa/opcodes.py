"""The DAE instruction set: one table that the encoder, assembler, disassembler,
verifier and docs/ISA.md all read.

Every instruction is one little-endian 64-bit word:

    bits  0..7   opcode
    bits  8..15  field A      bits 32..47  field D (16 bits)
    bits 16..23  field B      bits 48..63  field E (16 bits)
    bits 24..31  field C      bits 32..63  field DE (32-bit signed immediate)

An opcode's spec says which operand lives in which field and what kind of
value it is; fields it does not name must be zero.
"""

from __future__ import annotations

import dataclasses
import enum


class Unit(enum.Enum):
    ACCESS = "access"    # configuration words of the access unit
    EXECUTE = "execute"  # instructions of the core


class Field(enum.Enum):
    A = (8, 8)
    B = (16, 8)
    C = (24, 8)
    D = (32, 16)
    E = (48, 16)
    DE = (32, 32)

    @property
    def shift(self) -> int:
        return self.value[0]

    @property
    def bits(self) -> int:
        return self.value[1]


class Kind(enum.Enum):
    """What an operand field holds, and so how it is printed and checked."""

    XREG = "x"        # integer register x0..x31 (x0 reads as zero)
    FREG = "f"        # scalar floating-point register f0..f31
    VREG = "v"        # vector register v0..v31
    MREG = "m"        # mask register m0..m7
    CREG = "c"        # counter c0..c7
    BREG = "b"        # buffer register b0..b3
    SLOT = "slot"     # kernel tensor slot
    DTYPE = "dtype"   # element type, written as the mnemonic suffix
    FDTYPE = "fdtype"  # a floating-point element type
    IDTYPE = "idtype"  # an integer element type
    IMM16 = "imm16"   # signed 16-bit immediate
    UIMM16 = "uimm16" # unsigned 16-bit immediate
    UIMM8 = "uimm8"   # unsigned 8-bit immediate
    IMM32 = "imm32"   # signed 32-bit immediate
    LABEL = "label"   # execute_code word index
    ICONST = "k"      # index into Kernel.int_constants
    FCONST = "kf"     # index into Kernel.float_constants
    JTABLE = "jt"     # index into Kernel.jump_tables
    PARAM = "p"       # index into Kernel.params
    TU = "t"          # traversal unit
    TU_OR_NONE = "t?"  # traversal unit, or none (a root)
    STREAM = "s"      # access-unit stream
    SRC = "src"       # 16-bit source: immediate, stream, param or constant
    SRC_OR_NONE = "src?"
    EVENT = "event"   # beg | ite | end
    ALUOP = "aluop"
    MODE = "mode"     # lane-group mode
    CBID = "cbid"     # callback id, 1..65535 (0 is the end-of-work token)


DTYPE_KINDS = (Kind.DTYPE, Kind.FDTYPE, Kind.IDTYPE)
REGISTER_COUNTS = {Kind.XREG: 32, Kind.FREG: 32, Kind.VREG: 32, Kind.MREG: 8, Kind.CREG: 8, Kind.BREG: 4}
MAX_TUS = 64          # logical traversal units per kernel (the lowering maps them to lanes)
MAX_STREAMS = 255     # stream ids 0..254
MAX_VECTOR_WIDTH = 64  # elements per vector iteration of a TU; also mask bits
NONE_TU = 0xFF


class Event(enum.IntEnum):
    BEG = 0  # before the first iteration of a fiber (also for an empty fiber)
    ITE = 1  # at every iteration
    END = 2  # after the last iteration (also for an empty fiber)


class AluOp(enum.IntEnum):
    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3
    REM = 4
    MIN = 5
    MAX = 6
    SHL = 7
    SHR = 8


class GroupMode(enum.IntEnum):
    SINGLE = 0    # one lane runs the TU
    LOCKSTEP = 1  # `lanes` lanes iterate together and produce one vector
    BCAST = 2     # the TU's values are broadcast to every lane of the next layer


class SrcKind(enum.IntEnum):
    """Top two bits of a 16-bit SRC field."""

    IMM = 0     # 14-bit signed immediate
    STREAM = 1  # the head of a stream
    PARAM = 2   # a kernel parameter
    CONST = 3   # an entry of Kernel.int_constants


SRC_NONE = 0xFFFF  # SRC_OR_NONE: absent (CONST 16383 is reserved for this)
SRC_IMM_MIN, SRC_IMM_MAX = -(1 << 13), (1 << 13) - 1


@dataclasses.dataclass(frozen=True)
class Operand:
    name: str
    kind: Kind
    field: Field


@dataclasses.dataclass(frozen=True)
class OpcodeSpec:
    mnemonic: str
    code: int
    unit: Unit
    operands: tuple[Operand, ...]
    summary: str
    group: str

    @property
    def dtype_operand(self) -> Operand | None:
        return next((op for op in self.operands if op.kind in DTYPE_KINDS), None)

    @property
    def printed_operands(self) -> tuple[Operand, ...]:
        """Operands written after the mnemonic (the dtype is its suffix)."""
        return tuple(op for op in self.operands if op.kind not in DTYPE_KINDS)


_A, _B, _C, _D, _E, _DE = Field.A, Field.B, Field.C, Field.D, Field.E, Field.DE
_SPECS: list[OpcodeSpec] = []


def _op(code: int, mnemonic: str, unit: Unit, group: str, summary: str, *operands: tuple[str, Kind, Field]) -> None:
    _SPECS.append(OpcodeSpec(mnemonic, code, unit, tuple(Operand(*o) for o in operands), summary, group))


def _x(name, field):
    return (name, Kind.XREG, field)


def _f(name, field):
    return (name, Kind.FREG, field)


def _v(name, field):
    return (name, Kind.VREG, field)


_DT_D = ("dtype", Kind.DTYPE, _D)
_DT_E = ("dtype", Kind.DTYPE, _E)
_FDT_D = ("dtype", Kind.FDTYPE, _D)
_IDT_D = ("dtype", Kind.IDTYPE, _D)
_EX, _AU = Unit.EXECUTE, Unit.ACCESS

# ---- execute unit: control -------------------------------------------------
_op(0x01, "halt", _EX, "control", "Stop the core; the kernel is finished.")
_op(0x02, "jmp", _EX, "control", "Jump to `target`.", ("target", Kind.LABEL, _DE))
for _code, _name, _cond in ((0x03, "beq", "=="), (0x04, "bne", "!="), (0x05, "blt", "<"), (0x06, "bge", ">=")):
    _op(_code, _name, _EX, "control", f"Jump to `target` if `a {_cond} b` (signed).",
        _x("a", _A), _x("b", _B), ("target", Kind.LABEL, _DE))
_op(0x07, "cb.pop", _EX, "control",
    "Pop the next callback id from the control queue (blocks while empty); 0 means the access unit is done.",
    _x("rd", _A))
_op(0x08, "br.tab", _EX, "control",
    "Jump to entry `id` of jump table `table` (callback dispatch); an id outside the table faults.",
    _x("id", _A), ("table", Kind.JTABLE, _DE))

# ---- execute unit: data-queue pops -----------------------------------------
_op(0x10, "q.pop", _EX, "queue", "Pop an integer scalar operand.", _x("rd", _A))
_op(0x11, "q.popf", _EX, "queue", "Pop a floating-point scalar operand of type dtype.", _f("fd", _A), _FDT_D)
_op(0x12, "q.vpop", _EX, "queue", "Pop a vector operand and its lane mask.",
    _v("vd", _A), ("md", Kind.MREG, _B), _DT_D)
_op(0x13, "q.bpop", _EX, "queue", "Pop a buffer operand (a whole fiber of a stream) into a buffer register.",
    ("bd", Kind.BREG, _A))

# ---- execute unit: integer -------------------------------------------------
_op(0x20, "li", _EX, "integer", "rd = imm (sign-extended 32-bit).", _x("rd", _A), ("imm", Kind.IMM32, _DE))
_op(0x21, "lc", _EX, "integer", "rd = int_constants[k].", _x("rd", _A), ("k", Kind.ICONST, _DE))
_op(0x22, "param", _EX, "integer", "rd = value of kernel parameter p.", _x("rd", _A), ("p", Kind.PARAM, _DE))
_op(0x23, "mov", _EX, "integer", "rd = ra.", _x("rd", _A), _x("ra", _B))
for _code, _name, _what in (
    (0x24, "add", "ra + rb"), (0x25, "sub", "ra - rb"), (0x26, "mul", "ra * rb"),
    (0x27, "div", "ra / rb (truncating; division by zero faults)"), (0x28, "rem", "ra % rb (sign of ra)"),
    (0x29, "and", "ra & rb"), (0x2A, "or", "ra | rb"), (0x2B, "xor", "ra ^ rb"),
    (0x2C, "shl", "ra << rb"), (0x2D, "shr", "ra >> rb (arithmetic)"), (0x2E, "slt", "1 if ra < rb else 0"),
    (0x2F, "min", "min(ra, rb)"), (0x30, "max", "max(ra, rb)"),
):
    _op(_code, _name, _EX, "integer", f"rd = {_what}.", _x("rd", _A), _x("ra", _B), _x("rb", _C))
_op(0x31, "addi", _EX, "integer", "rd = ra + imm.", _x("rd", _A), _x("ra", _B), ("imm", Kind.IMM32, _DE))
_op(0x32, "muli", _EX, "integer", "rd = ra * imm.", _x("rd", _A), _x("ra", _B), ("imm", Kind.IMM32, _DE))

# ---- execute unit: scalar floating point (rounded to dtype) ----------------
_op(0x40, "lf", _EX, "float", "fd = float_constants[k] rounded to dtype.",
    _f("fd", _A), _FDT_D, ("k", Kind.FCONST, _E))
_op(0x41, "fmov", _EX, "float", "fd = fa.", _f("fd", _A), _f("fa", _B))
for _code, _name, _what in (
    (0x42, "fadd", "fa + fb"), (0x43, "fsub", "fa - fb"), (0x44, "fmul", "fa * fb"),
    (0x45, "fdiv", "fa / fb"), (0x46, "fmax", "max(fa, fb)"), (0x47, "fmin", "min(fa, fb)"),
):
    _op(_code, _name, _EX, "float", f"fd = {_what}, rounded to dtype.", _f("fd", _A), _f("fa", _B), _f("fb", _C), _FDT_D)
_op(0x48, "fsqrt", _EX, "float", "fd = sqrt(fa), rounded to dtype.", _f("fd", _A), _f("fa", _B), _FDT_D)
_op(0x49, "fcvt", _EX, "float", "fd = ra converted to dtype.", _f("fd", _A), _x("ra", _B), _FDT_D)

# ---- execute unit: counters (Ember's get_var / increment_var) --------------
_op(0x50, "ctr.set", _EX, "counter", "cd = imm.", ("cd", Kind.CREG, _A), ("imm", Kind.IMM32, _DE))
_op(0x51, "ctr.inc", _EX, "counter", "cd += imm.", ("cd", Kind.CREG, _A), ("imm", Kind.IMM32, _DE))
_op(0x52, "ctr.get", _EX, "counter", "rd = ca.", _x("rd", _A), ("ca", Kind.CREG, _B))

# ---- execute unit: memory (element-indexed, bounds-checked) ----------------
_SLOT_B = ("slot", Kind.SLOT, _B)
_op(0x60, "ld", _EX, "memory", "rd = slot[ri] (integer dtype).", _x("rd", _A), _SLOT_B, _x("ri", _C), _IDT_D)
_op(0x61, "st", _EX, "memory", "slot[ri] = rs (integer dtype).", _x("rs", _A), _SLOT_B, _x("ri", _C), _IDT_D)
_op(0x62, "fld", _EX, "memory", "fd = slot[ri] (float dtype).", _f("fd", _A), _SLOT_B, _x("ri", _C), _FDT_D)
_op(0x63, "fst", _EX, "memory", "slot[ri] = fs (float dtype).", _f("fs", _A), _SLOT_B, _x("ri", _C), _FDT_D)
_op(0x64, "vld", _EX, "memory", "vd[i] = slot[ri + i] where mask bit i is set, else 0.",
    _v("vd", _A), _SLOT_B, _x("ri", _C), ("mask", Kind.MREG, _D), _DT_E)
_op(0x65, "vst", _EX, "memory", "slot[ri + i] = vs[i] where mask bit i is set.",
    _v("vs", _A), _SLOT_B, _x("ri", _C), ("mask", Kind.MREG, _D), _DT_E)
_op(0x66, "vgather", _EX, "memory", "vd[i] = slot[vi[i]] where mask bit i is set, else 0 (the CPU baseline's gather).",
    _v("vd", _A), _SLOT_B, _v("vi", _C), ("mask", Kind.MREG, _D), _DT_E)
_op(0x67, "vscatter", _EX, "memory",
    "slot[vi[i]] = vs[i] where mask bit i is set, lanes in increasing order (of repeated indices the highest "
    "lane wins).",
    _v("vs", _A), _SLOT_B, _v("vi", _C), ("mask", Kind.MREG, _D), _DT_E)

# ---- execute unit: vector --------------------------------------------------
for _code, _name, _what in (
    (0x70, "vadd", "va + vb"), (0x71, "vsub", "va - vb"), (0x72, "vmul", "va * vb"),
    (0x73, "vdiv", "va / vb"), (0x74, "vmax", "max(va, vb)"), (0x75, "vmin", "min(va, vb)"),
):
    _op(_code, _name, _EX, "vector", f"vd = {_what}, lane-wise.", _v("vd", _A), _v("va", _B), _v("vb", _C), _DT_D)
_op(0x76, "vfma", _EX, "vector", "vd = vd + va * vb, lane-wise.", _v("vd", _A), _v("va", _B), _v("vb", _C), _FDT_D)
_op(0x77, "vscale", _EX, "vector", "vd = va * fs, lane-wise.", _v("vd", _A), _v("va", _B), _f("fs", _C), _FDT_D)
_op(0x78, "vsplat", _EX, "vector", "vd[i] = fs for every lane.", _v("vd", _A), _f("fs", _B), _FDT_D)
_op(0x79, "vmov", _EX, "vector", "vd = va.", _v("vd", _A), _v("va", _B))
_op(0x7A, "vzero", _EX, "vector", "vd[i] = 0 for every lane.", _v("vd", _A), _DT_D)
_op(0x7B, "vcvt", _EX, "vector", "vd = va converted to dtype, lane-wise.", _v("vd", _A), _v("va", _B), _DT_D)
_op(0x7C, "vredsum", _EX, "vector", "fd = sum of va[i] over the lanes whose mask bit is set.",
    _f("fd", _A), _v("va", _B), ("mask", Kind.MREG, _C), _FDT_D)
_op(0x7D, "viota", _EX, "vector", "vd[i] = ra + i (integer dtype).", _v("vd", _A), _x("ra", _B), _IDT_D)
_op(0x7E, "mset", _EX, "vector", "Mask md gets lanes 0 .. ra-1 set (ra clamped to 0..64).",
    ("md", Kind.MREG, _A), _x("ra", _B))

# ---- execute unit: buffers -------------------------------------------------
_op(0x88, "blen", _EX, "buffer", "rd = number of elements in buffer ba.", _x("rd", _A), ("ba", Kind.BREG, _B))
_op(0x89, "bld", _EX, "buffer", "vd[i] = ba[ri + i] where mask bit i is set, else 0.",
    _v("vd", _A), ("ba", Kind.BREG, _B), _x("ri", _C), ("mask", Kind.MREG, _D), _DT_E)

# ---- access unit: traversal units ------------------------------------------
_TU_OPERANDS = (("tu", Kind.TU, _A), ("parent", Kind.TU_OR_NONE, _B), ("width", Kind.UIMM8, _C))
_op(0xC0, "tu.dns", _AU, "traversal",
    "Dense traversal unit: for i = lb; i < ub; i += width, once per iteration of `parent`. lb and ub are not streams.",
    *_TU_OPERANDS, ("lb", Kind.SRC, _D), ("ub", Kind.SRC, _E))
_op(0xC1, "tu.rng", _AU, "traversal",
    "Range traversal unit: like tu.dns, with bounds read from streams of `parent` or its ancestors (CSR ranges).",
    *_TU_OPERANDS, ("lb", Kind.SRC, _D), ("ub", Kind.SRC, _E))
_op(0xC2, "tu.idx", _AU, "traversal",
    "Index traversal unit: for i = lb; i < lb + size; i += width; lb is a stream (a row start).",
    *_TU_OPERANDS, ("lb", Kind.SRC, _D), ("size", Kind.SRC, _E))
_op(0xC3, "tu.group", _AU, "traversal",
    "Map a TU to layer `layer` of the lanes with a lane-group mode and a lane count.",
    ("tu", Kind.TU, _A), ("layer", Kind.UIMM8, _B), ("mode", Kind.MODE, _C), ("lanes", Kind.UIMM16, _D))

# ---- access unit: streams --------------------------------------------------
_STREAM_OPERANDS = (("stream", Kind.STREAM, _A), ("tu", Kind.TU, _B))
_op(0xD0, "str.ite", _AU, "stream", "The induction values of `tu` (a vector of width lanes for a vector TU).",
    *_STREAM_OPERANDS)
_op(0xD1, "str.mem", _AU, "stream",
    "Load slot[index * row + col] per iteration, row = elements per first-dimension index of the slot; "
    "0 <= index < dim 0 and 0 <= col < row, else the unit faults (as TensorFlow does on an out-of-range id). "
    "Without col, index is a flat element index into the whole slot. Chaining a stream into index makes an "
    "indirect gather; on a vector TU, lanes past the bound are off and load nothing.",
    *_STREAM_OPERANDS, ("slot", Kind.SLOT, _C), ("index", Kind.SRC, _D), ("col", Kind.SRC_OR_NONE, _E))
_op(0xD2, "str.alu", _AU, "stream",
    "64-bit integer arithmetic per iteration (wrapping; div truncates toward zero, rem takes the sign of a, "
    "a zero divisor faults; shl/shr shift by b mod 64, shr is arithmetic).",
    *_STREAM_OPERANDS, ("op", Kind.ALUOP, _C), ("a", Kind.SRC, _D), ("b", Kind.SRC, _E))
_op(0xD3, "str.fwd", _AU, "stream", "Forward a value (constant, parameter or outer stream) as a stream of `tu`.",
    *_STREAM_OPERANDS, ("src", Kind.SRC, _D))
_op(0xD4, "str.buf", _AU, "stream",
    "Collect the elements a stream of `tu` yields over one fiber (active lanes only) into a buffer operand, "
    "valid at the fiber's end.",
    *_STREAM_OPERANDS, ("src", Kind.SRC, _D))

# ---- access unit: marshaling -----------------------------------------------
_op(0xE0, "mar.opnd", _AU, "marshal", "On `event` of `tu`, push the head of `stream` into the data queue.",
    ("tu", Kind.TU, _A), ("event", Kind.EVENT, _B), ("stream", Kind.STREAM, _C))
_op(0xE1, "mar.cb", _AU, "marshal", "On `event` of `tu`, push callback id `id` into the control queue.",
    ("tu", Kind.TU, _A), ("event", Kind.EVENT, _B), ("id", Kind.CBID, _D))

SPECS: tuple[OpcodeSpec, ...] = tuple(_SPECS)
BY_CODE: dict[int, OpcodeSpec] = {s.code: s for s in SPECS}
BY_MNEMONIC: dict[str, OpcodeSpec] = {s.mnemonic: s for s in SPECS}
assert len(BY_CODE) == len(SPECS) and len(BY_MNEMONIC) == len(SPECS), "duplicate opcode"
