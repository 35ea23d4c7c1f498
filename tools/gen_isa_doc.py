"""Regenerate the opcode reference of docs/ISA.md from ember_tf/dae_isa/opcodes.py.

    python tools/gen_isa_doc.py           # rewrite the generated part of docs/ISA.md
    python tools/gen_isa_doc.py --check   # exit 1 if docs/ISA.md is stale

Needs the project's dependencies; run by a bare interpreter that lacks them,
it re-runs itself with .venv/bin/python (created by `python3 dev.py test`).

Only the text between the BEGIN/END GENERATED OPCODES markers is touched; the
prose around it is hand-written. tests/test_docs.py fails when the committed
text differs from render_opcode_reference().
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout without installing
    sys.path.insert(0, str(ROOT))

try:
    from ember_tf.dae_isa import dtypes
    from ember_tf.dae_isa.opcodes import (
        DTYPE_KINDS,
        MAX_STREAMS,
        MAX_TUS,
        NONE_TU,
        REGISTER_COUNTS,
        SPECS,
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
        Unit,
    )
except ImportError as missing:  # e.g. a bare `python` without numpy/flatbuffers
    _VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
    if __name__ != "__main__" or not _VENV_PYTHON.exists() or os.environ.get("GEN_ISA_DOC_REEXEC"):
        raise
    print(f"({missing}; re-running with {_VENV_PYTHON.relative_to(ROOT)})", file=sys.stderr)
    os.environ["GEN_ISA_DOC_REEXEC"] = "1"
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])

DOC = ROOT / "docs" / "ISA.md"
BEGIN = "<!-- BEGIN GENERATED OPCODES -->"
END = "<!-- END GENERATED OPCODES -->"

UNIT_TITLES = {
    Unit.ACCESS: "Access unit (configuration words, `access_code`)",
    Unit.EXECUTE: "Execute unit (core instructions, `execute_code`)",
}


def _names(enum_type) -> str:
    return " \\| ".join(f"`{e.name.lower()}`" for e in enum_type)


def _kind_rows() -> dict[Kind, tuple[str, str]]:
    """(written as, meaning and encoding) for every operand kind."""
    rows: dict[Kind, tuple[str, str]] = {}
    register_names = {
        Kind.XREG: "integer register; `x0` reads as zero",
        Kind.FREG: "scalar floating-point register",
        Kind.VREG: "vector register",
        Kind.MREG: "mask register (one bit per vector element)",
        Kind.CREG: "counter register",
        Kind.BREG: "buffer register (a whole fiber popped with `q.bpop`)",
    }
    for kind, meaning in register_names.items():
        last = REGISTER_COUNTS[kind] - 1
        rows[kind] = (f"`{kind.value}0`..`{kind.value}{last}`", f"{meaning}; encoded as its number 0..{last}")
    float_suffixes = ", ".join(f"`.{t.suffix}`" for t in dtypes.ELEMENT_TYPES if t.is_float)
    int_suffixes = ", ".join(f"`.{t.suffix}`" for t in dtypes.ELEMENT_TYPES if not t.is_float)
    rows.update({
        Kind.SLOT: ("slot name, or `@N`", "kernel tensor slot index"),
        Kind.DTYPE: ("mnemonic suffix", "any element type; encoded as its `DType` code"),
        Kind.FDTYPE: ("mnemonic suffix", f"a floating-point element type ({float_suffixes})"),
        Kind.IDTYPE: ("mnemonic suffix", f"an integer element type ({int_suffixes})"),
        Kind.IMM16: ("integer", "signed 16-bit immediate (two's complement)"),
        Kind.UIMM16: ("integer", "unsigned 16-bit immediate"),
        Kind.UIMM8: ("integer", "unsigned 8-bit immediate"),
        Kind.IMM32: ("integer", "signed 32-bit immediate (two's complement)"),
        Kind.LABEL: ("label (disassembly: `L<pc>`)", "`execute_code` word index"),
        Kind.ICONST: ("`k0`, `k1`, ...", "index into the kernel's `int_constants`"),
        Kind.FCONST: ("`kf0`, `kf1`, ...", "index into the kernel's `float_constants`"),
        Kind.JTABLE: ("`jt0`, `jt1`, ...", "index into the kernel's `jump_tables`"),
        Kind.PARAM: ("`p0`, `p1`, ...", "index into the kernel's `params`"),
        Kind.TU: ("`t0`..`t%d`" % (MAX_TUS - 1), f"traversal unit 0..{MAX_TUS - 1}"),
        Kind.TU_OR_NONE: ("`tN` or `none`", f"a traversal unit, or `none` (a root), encoded 0x{NONE_TU:02X}"),
        Kind.STREAM: ("`s0`..`s%d`" % (MAX_STREAMS - 1), f"access-unit stream 0..{MAX_STREAMS - 1}"),
        Kind.SRC: ("`sN`, `pN`, `kN` or integer", "16-bit tagged source, see *SRC operands*"),
        Kind.SRC_OR_NONE: ("as `src`, or `none`", f"a SRC, or absent (0x{SRC_NONE:04X})"),
        Kind.EVENT: (_names(Event), "traversal event, encoded as below"),
        Kind.ALUOP: (_names(AluOp), "stream ALU operation, encoded as below"),
        Kind.MODE: (_names(GroupMode), "lane-group mode, encoded as below"),
        Kind.CBID: ("integer", "callback id 1..65535 (0 is the end-of-work token)"),
    })
    missing = [k for k in Kind if k not in rows]
    if missing:
        raise KeyError(f"tools/gen_isa_doc.py has no description for operand kind(s) {missing}")
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _bits(field: Field) -> str:
    return f"{field.shift}..{field.shift + field.bits - 1}"


def _syntax(spec: OpcodeSpec) -> str:
    head = spec.mnemonic + (".<dtype>" if spec.dtype_operand is not None else "")
    names = ", ".join(op.name for op in spec.printed_operands)
    return f"`{head} {names}`" if names else f"`{head}`"


def _operands(spec: OpcodeSpec) -> str:
    if not spec.operands:
        return "-"
    return "<br>".join(
        f"`{op.name}` {op.field.name} {_bits(op.field)}: {op.kind.value}" for op in spec.operands)


def _enum_table(title: str, enum_type, meanings: dict | None = None) -> list[str]:
    if meanings is None:
        out = [f"{title}:", "", "| name | code |", "|---|---|"]
        out += [f"| `{member.name.lower()}` | {int(member)} |" for member in enum_type]
    else:
        out = [f"{title}:", "", "| name | code | meaning |", "|---|---|---|"]
        out += [f"| `{member.name.lower()}` | {int(member)} | {_cell(meanings.get(member, ''))} |"
                for member in enum_type]
    return out + [""]


def render_opcode_reference() -> str:
    """The generated part of docs/ISA.md (without the marker lines)."""
    out = [
        "<!-- Generated by tools/gen_isa_doc.py from ember_tf/dae_isa/opcodes.py. Do not edit by hand:",
        "     edit the opcode table and run `python tools/gen_isa_doc.py`. -->",
        "",
        "### Fields of a word",
        "",
        "| field | bits | width |",
        "|---|---|---|",
        "| opcode | 0..7 | 8 |",
    ]
    out += [f"| {f.name} | {_bits(f)} | {f.bits} |" for f in Field]
    out += [
        "",
        "DE overlaps D and E; no opcode uses DE together with D or E.",
        "",
        "### Operand kinds",
        "",
        "| kind | written as | meaning and encoding |",
        "|---|---|---|",
    ]
    for kind, (written, meaning) in _kind_rows().items():
        out.append(f"| `{kind.value}` | {written} | {_cell(meaning)} |")
    out += [""]
    out += _enum_table("`event` values", Event, {
        Event.BEG: "before the first iteration of a fiber",
        Event.ITE: "at every iteration",
        Event.END: "after the last iteration (also for an empty fiber)",
    })
    out += _enum_table("`aluop` values", AluOp)
    out += _enum_table("`mode` values", GroupMode, {
        GroupMode.SINGLE: "one lane runs the TU",
        GroupMode.LOCKSTEP: "`lanes` lanes iterate together and produce one vector",
        GroupMode.BCAST: "the TU's values are broadcast to every lane of the next layer",
    })
    out += _enum_table("SRC kinds (bits 14..15 of a SRC field)", SrcKind, {
        SrcKind.IMM: f"bits 0..13: signed immediate {SRC_IMM_MIN}..{SRC_IMM_MAX}",
        SrcKind.STREAM: "bits 0..13: stream id (the stream's head)",
        SrcKind.PARAM: "bits 0..13: kernel parameter index",
        SrcKind.CONST: f"bits 0..13: `int_constants` index; 0x{SRC_NONE:04X} (index {SRC_NONE & 0x3FFF}) means none",
    })
    out += [
        "Element types (`DType` codes of schema/dae.fbs; directives use the name, instructions the suffix):",
        "",
        "| name | suffix | code | bytes | kind |",
        "|---|---|---|---|---|",
    ]
    for t in dtypes.ELEMENT_TYPES:
        out.append(f"| {t.name} | `.{t.suffix}` | {t.code} | {t.itemsize} | {'float' if t.is_float else 'integer'} |")
    out += [""]
    for s in SPECS:  # the field note above and the `.<dtype>` syntax rely on these
        fields = {op.field for op in s.operands}
        if Field.DE in fields and fields & {Field.D, Field.E}:
            raise ValueError(f"{s.mnemonic}: uses DE together with D or E; update the field note")
        if any(op.kind in DTYPE_KINDS and op.name != "dtype" for op in s.operands):
            raise ValueError(f"{s.mnemonic}: a dtype operand not named 'dtype'")
    for unit in Unit:
        specs = [s for s in SPECS if s.unit is unit]
        out += [f"### {UNIT_TITLES[unit]}", ""]
        groups = list(dict.fromkeys(s.group for s in specs))
        for group in groups:
            out += [
                f"#### {unit.value} / {group}",
                "",
                "| opcode | syntax | operands (field bits: kind) | summary |",
                "|---|---|---|---|",
            ]
            for s in (s for s in specs if s.group == group):
                out.append(f"| 0x{s.code:02X} | {_syntax(s)} | {_operands(s)} | {_cell(s.summary)} |")
            out += [""]
    return "\n".join(out).rstrip("\n") + "\n"


def splice(document: str, generated: str) -> str:
    """`document` with the text between the markers replaced by `generated`."""
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < 0 or end < start or document.count(BEGIN) != 1 or document.count(END) != 1:
        raise ValueError(f"{DOC.relative_to(ROOT)} must contain {BEGIN} and {END} once each, in that order")
    return document[:start + len(BEGIN)] + "\n" + generated + document[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/ISA.md is stale, change nothing")
    args = parser.parse_args(argv)
    current = DOC.read_text(encoding="utf-8")
    try:
        wanted = splice(current, render_opcode_reference())
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.check:
        if wanted != current:
            print(f"{DOC.relative_to(ROOT)} is stale: run python tools/gen_isa_doc.py", file=sys.stderr)
            return 1
        print(f"{DOC.relative_to(ROOT)} is up to date")
        return 0
    if wanted != current:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
    else:
        print(f"{DOC.relative_to(ROOT)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
