"""Instruction words <-> Instruction values, driven by the opcode table.

Decoding checks what one word can tell on its own (known opcode, zero unused
bits, register numbers and enum values in range); checks that need the kernel
(labels, slots, constant indices, stream definitions) are the verifier's.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence


from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.opcodes import (
    BY_CODE,
    DTYPE_KINDS,
    MAX_STREAMS,
    MAX_TUS,
    NONE_TU,
    REGISTER_COUNTS,
    SRC_IMM_MAX,
    SRC_IMM_MIN,
    SRC_NONE,
    AluOp,
    Event,
    Field,
    GroupMode,
    Kind,
    OpcodeSpec,
    SrcKind,
)


@dataclasses.dataclass(frozen=True)
class Src:
    """A 16-bit SRC operand: an immediate, a stream, a kernel param or a constant."""

    kind: SrcKind
    value: int

    def encode(self) -> int:
        if self.kind is SrcKind.IMM:
            if not SRC_IMM_MIN <= self.value <= SRC_IMM_MAX:
                raise ValueError(f"immediate {self.value} does not fit 14 bits; put it in the constant pool")
            return (int(self.kind) << 14) | (self.value & 0x3FFF)
        limit = 0x3FFF if self.kind is SrcKind.CONST else 0x4000  # CONST 0x3FFF encodes "none"
        if not 0 <= self.value < limit:
            raise ValueError(f"{self.kind.name.lower()} index {self.value} out of range")
        return (int(self.kind) << 14) | self.value

    @staticmethod
    def decode(bits: int) -> "Src":
        kind, value = SrcKind(bits >> 14), bits & 0x3FFF
        if kind is SrcKind.IMM and value & 0x2000:
            value -= 0x4000
        return Src(kind, value)


@dataclasses.dataclass(frozen=True)
class Instruction:
    spec: OpcodeSpec
    args: tuple  # one value per spec.operands, in order

    @property
    def mnemonic(self) -> str:
        return self.spec.mnemonic

    def arg(self, name: str):
        for operand, value in zip(self.spec.operands, self.args):
            if operand.name == name:
                return value
        raise KeyError(name)


def _field_range(kind: Kind, field: Field) -> tuple[int, int]:
    """Inclusive value range an operand may take in its field."""
    if kind in REGISTER_COUNTS:
        return 0, REGISTER_COUNTS[kind] - 1
    if kind in (Kind.IMM16, Kind.IMM32):
        half = 1 << (field.bits - 1)
        return -half, half - 1
    if kind is Kind.EVENT:
        return 0, max(Event)
    if kind is Kind.ALUOP:
        return 0, max(AluOp)
    if kind is Kind.MODE:
        return 0, max(GroupMode)
    if kind is Kind.CBID:
        return 1, (1 << field.bits) - 1
    if kind is Kind.TU:
        return 0, MAX_TUS - 1
    if kind is Kind.STREAM:
        return 0, MAX_STREAMS - 1
    return 0, (1 << field.bits) - 1


def _check_value(kind: Kind, field: Field, value: int, name: str) -> None:
    if kind in DTYPE_KINDS:
        element = dtypes.BY_CODE.get(value)
        if element is None:
            raise ValueError(f"operand {name}: unknown dtype {value}")
        if kind is Kind.FDTYPE and not element.is_float:
            raise ValueError(f"dtype {element.suffix} is not a floating-point type")
        if kind is Kind.IDTYPE and element.is_float:
            raise ValueError(f"dtype {element.suffix} is not an integer type")
        return
    if kind is Kind.TU_OR_NONE and value == NONE_TU:
        return
    low, high = _field_range(Kind.TU if kind is Kind.TU_OR_NONE else kind, field)
    if not low <= value <= high:
        raise ValueError(f"operand {name}: {value} outside {low}..{high}")


def encode(instruction: Instruction) -> int:
    """The 64-bit word of an instruction; ValueError if an operand does not fit."""
    word = instruction.spec.code
    for operand, value in zip(instruction.spec.operands, instruction.args):
        if operand.kind in (Kind.SRC, Kind.SRC_OR_NONE):
            if value is None:
                if operand.kind is Kind.SRC:
                    raise ValueError(f"operand {operand.name} is required")
                bits = SRC_NONE
            else:
                bits = value.encode()
        else:
            if operand.kind is Kind.TU_OR_NONE and value is None:
                value = NONE_TU
            _check_value(operand.kind, operand.field, value, operand.name)
            bits = value & ((1 << operand.field.bits) - 1)
        word |= bits << operand.field.shift
    return word


def decode(word: int) -> Instruction:
    """The instruction a word encodes; ValueError naming the defect otherwise."""
    word = int(word)
    spec = BY_CODE.get(word & 0xFF)
    if spec is None:
        raise ValueError(f"unknown opcode 0x{word & 0xFF:02x}")
    used = 0xFF
    args = []
    for operand in spec.operands:
        field = operand.field
        mask = (1 << field.bits) - 1
        used |= mask << field.shift
        bits = (word >> field.shift) & mask
        if operand.kind in (Kind.SRC, Kind.SRC_OR_NONE):
            if bits == SRC_NONE:
                if operand.kind is Kind.SRC:
                    raise ValueError(f"{spec.mnemonic}: operand {operand.name} is required")
                args.append(None)
                continue
            args.append(Src.decode(bits))
            continue
        if operand.kind in (Kind.IMM16, Kind.IMM32) and bits >> (field.bits - 1):
            bits -= 1 << field.bits
        try:
            _check_value(operand.kind, field, bits, operand.name)
        except ValueError as e:
            raise ValueError(f"{spec.mnemonic}: {e}") from None
        args.append(None if operand.kind is Kind.TU_OR_NONE and bits == NONE_TU else bits)
    if word & ~used & 0xFFFFFFFFFFFFFFFF:
        raise ValueError(f"{spec.mnemonic}: bits set outside its operand fields")
    return Instruction(spec, tuple(args))


def decode_all(words: Sequence[int]) -> list[Instruction]:
    return [decode(w) for w in words]
