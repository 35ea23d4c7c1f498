"""Corrupted .daebin files are rejected with one specific line, never a traceback.

Every variant below starts from a valid file made from kernels/gather.dasm.
Byte-level damage (truncation, bad offsets and lengths, broken strings) is
patched into the bytes, at positions found by walking the FlatBuffer's
vtables. Semantic damage (indices out of range, unsupported versions, bad
instruction words, miswired access configurations) is made in the object
model and packed without the writer's verification, which would refuse it.

Each variant must make read_model raise DaebinFormatError naming the file,
and make `ember-tf inspect FILE` exit with status 2 after printing exactly one
line on stderr that names the file and the defect. The command runs in
process for every variant and as the real console script for a
representative subset (run concurrently to keep the suite fast).
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import random
import re
import struct
import subprocess
import sys
import time
import tracemalloc

import flatbuffers
import numpy as np
import pytest

from ember_tf import cli, dae_isa
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes, writer
from ember_tf.dae_isa.encoding import Instruction, Src, decode, encode
from ember_tf.dae_isa.flatbuffer_verify import TABLES
from ember_tf.dae_isa.opcodes import SrcKind
from ember_tf.errors import DaebinFormatError
from ember_tf.version import KERNEL_VERSION, RUNTIME_VERSION, SCHEMA_VERSION

ROOT = pathlib.Path(__file__).resolve().parents[2]
GATHER = ROOT / "kernels" / "gather.dasm"
EMBER_TF = pathlib.Path(sys.executable).parent / "ember-tf"
SMALL_THRESHOLD = 64  # bytes; gather's 240-byte table then lives after the FlatBuffer
TIMEOUT = 20  # seconds, for one `ember-tf inspect` of a small file
MAX_PEAK_BYTES = 32 << 20  # a reader that trusted a corrupted length would allocate far more


# ---------------------------------------------------------------------------
# valid inputs


def gather_model() -> fb.ModelT:
    """A fresh object model of kernels/gather.dasm (callers may mutate it)."""
    return dae_isa.assemble(GATHER.read_text(encoding="utf-8"), str(GATHER))


def pack_unverified(model: fb.ModelT, threshold: int = writer.DEFAULT_EXTERNAL_THRESHOLD) -> bytes:
    """The writer's exact layout, minus its verification."""
    head, tail = writer._layout(model, threshold)
    return b"".join(bytes(chunk) for chunk in writer._chunks(head, tail))


_VALID: dict[int, bytes] = {}


def valid_bytes(threshold: int = writer.DEFAULT_EXTERNAL_THRESHOLD) -> bytes:
    if threshold not in _VALID:
        _VALID[threshold] = dae_isa.serialize_model(gather_model(), external_threshold=threshold)
    return _VALID[threshold]


def inline_bytes() -> bytes:
    return valid_bytes()


def external_bytes() -> bytes:
    return valid_bytes(SMALL_THRESHOLD)


# ---------------------------------------------------------------------------
# finding fields in the bytes: walk the vtables, with the field lists of
# flatbuffer_verify.TABLES (checked against the schema by test_schema.py)


def _u32(buf, pos: int) -> int:
    return struct.unpack_from("<I", buf, pos)[0]


def _deref(buf, pos: int) -> int:
    """The target of the uoffset stored at pos."""
    return pos + _u32(buf, pos)


def vtable_of(buf, table: int) -> int:
    return table - struct.unpack_from("<i", buf, table)[0]


def locate(buf, *steps) -> int:
    """Absolute position of the value a path of field names and vector indices
    reaches: a scalar field, a vector element, or the uoffset slot of a
    string, vector or table. locate(buf) is the root table itself."""
    table, ftype, where = _deref(buf, 0), ("table", "Model"), None
    for step in steps:
        if isinstance(step, str):
            assert ftype[0] == "table", f"{step}: not a table"
            if where is not None:
                table = _deref(buf, where)
            names = [name for name, _ in TABLES[ftype[1]]]
            index = names.index(step)
            vtable = vtable_of(buf, table)
            voffset = struct.unpack_from("<H", buf, vtable + 4 + 2 * index)[0]
            assert 4 + 2 * index < struct.unpack_from("<H", buf, vtable)[0] and voffset, f"{step} is absent"
            where, ftype = table + voffset, TABLES[ftype[1]][index][1]
        else:
            assert ftype[0] == "vector", f"[{step}]: not a vector"
            element = ftype[1]
            size = struct.calcsize("<" + element) if isinstance(element, str) else 4
            start = _deref(buf, where)
            assert 0 <= step < _u32(buf, start), f"[{step}] out of range"
            where, ftype = start + 4 + step * size, element
    return table if where is None else where


def vector_start(buf, *steps) -> int:
    """Position of the length word of the vector or string at the path."""
    return _deref(buf, locate(buf, *steps))


def put(buf: bytearray, fmt: str, pos: int, value) -> None:
    struct.pack_into("<" + fmt, buf, pos, value)


# ---------------------------------------------------------------------------
# instruction helpers


def find(words, mnemonic: str, **args) -> int:
    """Index of the first word decoding to `mnemonic` with the given operands."""
    for pc, word in enumerate(words):
        ins = decode(word)
        if ins.mnemonic == mnemonic and all(ins.arg(k) == v for k, v in args.items()):
            return pc
    raise AssertionError(f"no {mnemonic} {args} in the program")


def reencode(word: int, **changes) -> int:
    """The word with some operands replaced (encode checks only field widths)."""
    ins = decode(word)
    args = tuple(changes.get(op.name, value) for op, value in zip(ins.spec.operands, ins.args))
    return encode(Instruction(ins.spec, args))


def patch_code(model: fb.ModelT, field: str, mnemonic: str, match: dict | None = None, **changes) -> None:
    kernel = model.kernels[0]
    words = np.array(getattr(kernel, field), dtype=np.uint64)
    pc = find(words, mnemonic, **(match or {}))
    words[pc] = reencode(int(words[pc]), **changes)
    setattr(kernel, field, words)


def set_word(model: fb.ModelT, field: str, pc: int, word: int) -> None:
    kernel = model.kernels[0]
    words = np.array(getattr(kernel, field), dtype=np.uint64)
    words[pc] = word
    setattr(kernel, field, words)


def add_metadata(model: fb.ModelT, name: str, value: bytes) -> None:
    buffer = fb.BufferT()
    buffer.data, buffer.offset, buffer.size = np.frombuffer(value, dtype=np.uint8), 0, 0
    model.buffers.append(buffer)
    entry = fb.MetadataT()
    entry.name, entry.buffer = name, len(model.buffers) - 1
    model.metadata.append(entry)


# ---------------------------------------------------------------------------
# the variants: name -> (build() -> bytes, regex the error line must match)

VARIANTS: dict[str, tuple] = {}


def variant(name: str, expect: str, build) -> None:
    assert name not in VARIANTS, name
    VARIANTS[name] = (build, expect)


def edited(edit, threshold: int = writer.DEFAULT_EXTERNAL_THRESHOLD):
    def build() -> bytes:
        model = gather_model()
        edit(model)
        return pack_unverified(model, threshold)
    return build


def patched(patch, base=inline_bytes):
    def build() -> bytes:
        data = bytearray(base())
        patch(data)
        return bytes(data)
    return build


OUTSIDE = r"lies outside the \d+-byte file"

# -- truncations ------------------------------------------------------------
for _label, _length in [
    ("0", lambda n: 0), ("1", lambda n: 1), ("4", lambda n: 4), ("7", lambda n: 7), ("8", lambda n: 8),
    ("12", lambda n: 12), ("64", lambda n: 64), ("quarter", lambda n: n // 4), ("half", lambda n: n // 2),
    ("three_quarters", lambda n: 3 * n // 4), ("len-16", lambda n: n - 16), ("len-4", lambda n: n - 4),
    ("len-2", lambda n: n - 2), ("len-1", lambda n: n - 1),
]:
    variant(f"truncated_to_{_label}", r"file is empty|truncated",   # it says so
            (lambda length: lambda: inline_bytes()[:length(len(inline_bytes()))])(_length))
variant("external_truncated_to_len-1", r"buffers\[1\]: external data at offset \d+ \(\+\d+ bytes\) runs past the end"
                                       r".*\(truncated\?\)",
        lambda: external_bytes()[:-1])
variant("external_truncated_to_flatbuffer", r"buffers\[1\]: external data .* runs past the end",
        lambda: external_bytes()[:struct.unpack_from("<Q", external_bytes(),
                                                     locate(external_bytes(), "buffers", 1, "offset"))[0]])

# -- header -----------------------------------------------------------------
variant("file_identifier_TFL3", r"header: file identifier is b'TFL3', expected b'DAE1'",
        patched(lambda b: b.__setitem__(slice(4, 8), b"TFL3")))
variant("file_identifier_zeroed", r"file identifier is b'\\x00\\x00\\x00\\x00'",
        patched(lambda b: b.__setitem__(slice(4, 8), bytes(4))))
variant("root_offset_huge", rf"root: offset \d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "I", 0, 0x7FFFFFF0)))
variant("root_offset_negative", rf"root: offset \d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "i", 0, -8)))
variant("root_offset_misaligned", r"root: offset \d+ is not 4-byte aligned",
        patched(lambda b: put(b, "I", 0, _u32(b, 0) + 2)))

# -- tables and vtables -----------------------------------------------------
variant("model_vtable_soffset_huge", rf"model vtable: offset -?\d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "i", locate(b), 0x7FFFFFF0)))
variant("model_vtable_soffset_negative_huge", rf"model vtable: offset \d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "i", locate(b), -0x7FFFFFF0)))
variant("model_vtable_size_odd", r"model: bad vtable size 5",
        patched(lambda b: put(b, "H", vtable_of(b, locate(b)), 5)))
variant("model_table_size_huge", rf"model: offset \d+ \(\+65535 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "H", vtable_of(b, locate(b)) + 2, 0xFFFF)))
variant("model_field_voffset_past_table", r"model\.version: field lies outside its table",
        patched(lambda b: put(b, "H", vtable_of(b, locate(b)) + 4, 0xFFF0)))

# -- uoffsets -----------------------------------------------------------------
variant("tensors_uoffset_huge", rf"model\.tensors: offset \d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "I", locate(b, "tensors"), 0xFFFFFFF0)))
variant("kernel_uoffset_2_to_the_31", rf"model\.kernels\[0\]: offset \d+ \(\+4 bytes\) {OUTSIDE}",
        patched(lambda b: put(b, "I", locate(b, "kernels", 0), 0x80000000)))


def _misalign_execute_code(b: bytearray) -> None:
    """Point execute_code 4 bytes later, at a 1-word vector whose body is then misaligned."""
    slot = locate(b, "kernels", 0, "execute_code")
    put(b, "I", slot, _u32(b, slot) + 4)
    put(b, "I", _deref(b, slot), 1)


variant("execute_code_misaligned",
        r"model\.kernels\[0\]\.execute_code \(1 elements\): offset \d+ is not 8-byte aligned",
        patched(_misalign_execute_code))

# -- vector and string lengths of 0x7fffffff: must fail fast, without allocating
for _path, _expect in [
    (("tensors",), r"model\.tensors \(2147483647 elements\)"),
    (("buffers",), r"model\.buffers \(2147483647 elements\)"),
    (("buffers", 1, "data"), r"model\.buffers\[1\]\.data \(2147483647 elements\)"),
    (("kernels", 0, "execute_code"), r"model\.kernels\[0\]\.execute_code \(2147483647 elements\)"),
    (("kernels", 0, "slots", 2, "name"), r"model\.kernels\[0\]\.slots\[2\]\.name \(2147483647 elements\)"),
    (("description",), r"model\.description \(2147483647 elements\)"),
]:
    variant("length_7fffffff_" + "_".join(map(str, _path)), _expect + rf": offset \d+ \(\+\d+ bytes\) {OUTSIDE}",
            (lambda path: patched(lambda b: put(b, "I", vector_start(b, *path), 0x7FFFFFFF)))(_path))

# -- strings ------------------------------------------------------------------
variant("description_not_nul_terminated", r"model\.description: string is not NUL-terminated",
        patched(lambda b: b.__setitem__(vector_start(b, "description") + 4 + _u32(b, vector_start(b, "description")),
                                        0x41)))
variant("tensor_name_not_utf8", r"a string is not valid UTF-8",
        patched(lambda b: b.__setitem__(vector_start(b, "tensors", 1, "name") + 4, 0xFF)))

# -- external buffers ---------------------------------------------------------
variant("external_offset_past_end", r"buffers\[1\]: external data at offset \d+ \(\+\d+ bytes\) runs past the end",
        patched(lambda b: put(b, "Q", locate(b, "buffers", 1, "offset"), (len(b) + 64) // 64 * 64),
                external_bytes))
variant("external_offset_2_to_the_63", r"buffers\[1\]: external data at offset 9223372036854775808 .* runs past",
        patched(lambda b: put(b, "Q", locate(b, "buffers", 1, "offset"), 1 << 63), external_bytes))
variant("external_size_huge", r"buffers\[1\]: external data at offset \d+ \(\+18446744073709551615 bytes\) runs past",
        patched(lambda b: put(b, "Q", locate(b, "buffers", 1, "size"), (1 << 64) - 1), external_bytes))
variant("external_offset_misaligned", r"buffers\[1\]: external data offset \d+ is not 64-byte aligned",
        patched(lambda b: put(b, "Q", locate(b, "buffers", 1, "offset"),
                              struct.unpack_from("<Q", b, locate(b, "buffers", 1, "offset"))[0] - 8),
                external_bytes))


def _inline_and_external(model: fb.ModelT) -> bytes:
    """Buffer 1 with inline data and an offset: flatc's own Pack keeps both."""
    model.buffers[1].offset, model.buffers[1].size = 64, len(model.buffers[1].data)
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"DAE1")
    return bytes(builder.Output())


def _shared_kernel(copies: int = 1000, extra_words: int = 2000) -> bytes:
    """A valid kernel with a longer program, listed `copies` times by
    pointing every entry of Model.kernels at the same table: a 20 KiB file
    whose verification, unchecked, would decode two million words."""
    model = gather_model()
    kernel = model.kernels[0]
    code = np.asarray(kernel.executeCode, dtype=np.uint64)
    filler = code[find(code, "li")]  # unreachable words after the final halt, then another halt
    kernel.executeCode = np.concatenate([code, np.full(extra_words, filler, np.uint64), code[-1:]])
    builder = flatbuffers.Builder(1024)

    def vector(offsets):
        builder.StartVector(4, len(offsets), 4)
        for offset in reversed(offsets):
            builder.PrependUOffsetTRelative(offset)
        return builder.EndVector()

    shared = kernel.Pack(builder)
    kernels = vector([shared] * copies)
    buffers = vector([b.Pack(builder) for b in model.buffers])
    tensors = vector([t.Pack(builder) for t in model.tensors])
    subgraphs = vector([g.Pack(builder) for g in model.subgraphs])
    fb.ModelStart(builder)
    fb.ModelAddVersion(builder, SCHEMA_VERSION)
    fb.ModelAddBuffers(builder, buffers)
    fb.ModelAddTensors(builder, tensors)
    fb.ModelAddKernels(builder, kernels)
    fb.ModelAddSubgraphs(builder, subgraphs)
    builder.Finish(fb.ModelEnd(builder), file_identifier=b"DAE1")
    return bytes(builder.Output())


variant("one_kernel_shared_1000_times", r"model\.kernels\[\d+\].*: tables and vectors reached add up to more than "
                                         r"\d+x the file size", _shared_kernel)
variant("buffer_both_inline_and_external", r"buffers\[1\]: has both inline data and an external offset",
        lambda: _inline_and_external(gather_model()))

# -- versions -----------------------------------------------------------------
variant("schema_version_newer", rf"model: schema version {SCHEMA_VERSION + 1} is newer than this runtime supports",
        edited(lambda m: setattr(m, "version", SCHEMA_VERSION + 1)))
variant("schema_version_zero", r"model: schema version 0 is not a valid version",
        edited(lambda m: setattr(m, "version", 0)))
variant("kernel_version_newer", rf"kernels\[0\] 'gather_rows': kernel version {KERNEL_VERSION + 1} is not supported",
        edited(lambda m: setattr(m.kernels[0], "version", KERNEL_VERSION + 1)))
variant("kernel_name_with_newline", r"kernels\[0\] 'evil\\nname': kernel version 7 is not supported",
        edited(lambda m: (setattr(m.kernels[0], "name", "evil\nname"), setattr(m.kernels[0], "version", 7))))

_NEWER_RUNTIME = ".".join(map(str, (*RUNTIME_VERSION[:-1], RUNTIME_VERSION[-1] + 1)))
variant("min_runtime_version_newer", rf"metadata\[0\]: needs runtime {re.escape(_NEWER_RUNTIME)}, this is",
        edited(lambda m: add_metadata(m, "min_runtime_version", _NEWER_RUNTIME.encode())))
variant("min_runtime_version_major", r"metadata\[0\]: needs runtime 99\.0, this is",
        edited(lambda m: add_metadata(m, "min_runtime_version", b"99.0\0")))
variant("min_runtime_version_newer_external", rf"metadata\[0\]: needs runtime {re.escape(_NEWER_RUNTIME)}",
        edited(lambda m: add_metadata(m, "min_runtime_version", _NEWER_RUNTIME.encode()), SMALL_THRESHOLD))
variant("min_runtime_version_garbage", r"metadata\[0\]: min_runtime_version is not a dotted version string",
        edited(lambda m: add_metadata(m, "min_runtime_version", b"latest")))

# -- indices out of range -----------------------------------------------------
variant("tensor_buffer_index", r"tensors\[1\]: buffer index 7 out of range \(0\.\.1\)",
        edited(lambda m: setattr(m.tensors[1], "buffer", 7)))
def _widen_table(model: fb.ModelT) -> None:
    rows, dim = (int(d) for d in model.tensors[1].shape)
    model.tensors[1].shape = model.tensors[1].shapeSignature = [rows, dim + 1]


variant("tensor_buffer_too_small", r"tensors\[1\]: buffer 1 holds \d+ bytes, shape \[\d+, \d+\] of float32 needs \d+",
        edited(_widen_table))
variant("tensor_unknown_dtype", r"tensors\[0\]: unknown dtype 99",
        edited(lambda m: setattr(m.tensors[0], "dtype", 99)))
variant("sentinel_buffer_not_empty", r"buffers\[0\]: the sentinel buffer must be empty",
        edited(lambda m: setattr(m.buffers[0], "data", np.ones(4, np.uint8))))
variant("operator_tensor_index", r"subgraphs\[0\]\.operators\[0\]: tensor index 9 out of range \(0\.\.2\)",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "inputs", [0, 9])))
variant("operator_tensor_index_negative", r"subgraphs\[0\]\.operators\[0\]: tensor index -1 out of range",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "outputs", [-1])))
variant("operator_kernel_index", r"subgraphs\[0\]\.operators\[0\]: kernel index 3 out of range \(0\.\.0\)",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "index", 3)))
variant("operator_unknown_kind", r"subgraphs\[0\]\.operators\[0\]: unknown operator kind 9",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "kind", 9)))
variant("operator_slot_count", r"operators\[0\]: binds 2 tensors to a kernel with 3 slots",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "inputs", [0])))
variant("subgraph_output_index", r"subgraphs\[0\]\.outputs: tensor index 3 out of range",
        edited(lambda m: setattr(m.subgraphs[0], "outputs", [3])))
variant("signature_tensor_index", r"signature_defs\[0\] tensor map 0: tensor index 5 out of range",
        edited(lambda m: setattr(m.signatureDefs[0].inputs[0], "tensor", 5)))
variant("signature_subgraph_index", r"signature_defs\[0\]: subgraph index 4 out of range \(0\.\.0\)",
        edited(lambda m: setattr(m.signatureDefs[0], "subgraph", 4)))
variant("metadata_buffer_index", r"metadata\[0\]: buffer index 9 out of range \(0\.\.1\)",
        edited(lambda m: setattr(m, "metadata", [fb.MetadataT(name="owner", buffer=9)])))
variant("jump_table_target", r"jump table 0: jump target index 999 out of range \(0\.\.\d+\)",
        edited(lambda m: setattr(m.kernels[0].jumpTables[0], "targets", [0, 999])))
variant("param_slot_index", r"param 0: slot index 5 out of range \(0\.\.2\)",
        edited(lambda m: setattr(m.kernels[0].params[0], "slot", 5)))


def _element_param(slot: int, **fields):
    """Turns param 0 (ids dim 0) into an ELEMENT param of `slot`, then sets `fields`."""
    def edit(model: fb.ModelT) -> None:
        param = model.kernels[0].params[0]
        param.kind, param.slot, param.dim, param.element = fb.ParamKind.ELEMENT, slot, 0, -1
        for name, value in fields.items():
            setattr(param, name, value)
    return edited(edit)


variant("param_element_of_float_slot", r"kernels\[0\] 'gather_rows' param 0: an element parameter reads an int32 "
                                       r"or int64 slot, not 'table' \(float32\)", _element_param(1))
variant("param_element_of_output_slot", r"param 0: an element parameter reads an input slot, not output slot 'out'",
        _element_param(2))
variant("param_element_with_dim", r"param 0: an element parameter has dim 0, not 3", _element_param(0, dim=3))
variant("param_dim_with_element", r"param 0: a dimension parameter has element 0, not 5",
        edited(lambda m: setattr(m.kernels[0].params[0], "element", 5)))
variant("param_unknown_kind", r"param 1: unknown parameter kind 7 \(0: DIM, 1: ELEMENT, 2: COPY\)",
        edited(lambda m: setattr(m.kernels[0].params[1], "kind", 7)))
variant("kernel_without_machine", r"kernels\[0\] 'gather_rows': missing machine parameters",
        edited(lambda m: setattr(m.kernels[0], "machine", None)))

# -- instruction words ----------------------------------------------------------
variant("execute_slot_index", r"execute_code\[\d+\] vst: slot index 7 out of range \(0\.\.2\)",
        edited(lambda m: patch_code(m, "executeCode", "vst", slot=7)))
variant("access_slot_index", r"access_code\[2\] str\.mem: slot index 9 out of range \(0\.\.2\)",
        edited(lambda m: patch_code(m, "accessCode", "str.mem", {"stream": 1}, slot=9)))
variant("label_beyond_code", r"execute_code\[\d+\] blt: label index 1000 out of range \(0\.\.\d+\)",
        edited(lambda m: patch_code(m, "executeCode", "blt", target=1000)))
variant("jump_label_max", r"execute_code\[\d+\] jmp: label index 4294967295 out of range",
        edited(lambda m: patch_code(m, "executeCode", "jmp", target=0xFFFFFFFF)))
variant("unknown_opcode", r"execute_code\[0\]: unknown opcode 0xee",
        edited(lambda m: set_word(m, "executeCode", 0, 0xEE)))
variant("zero_word", r"execute_code\[3\]: unknown opcode 0x00",
        edited(lambda m: set_word(m, "executeCode", 3, 0)))
variant("stray_bits", r"execute_code\[\d+\]: halt: bits set outside its operand fields",
        edited(lambda m: set_word(m, "executeCode", find(m.kernels[0].executeCode, "halt"), 0x01 | 1 << 40)))
variant("register_out_of_range", r"execute_code\[0\]: param: operand rd: 255 outside 0\.\.31",
        edited(lambda m: set_word(m, "executeCode", 0, int(m.kernels[0].executeCode[0]) | 0xFF << 8)))
variant("access_word_in_execute_code", r"execute_code\[0\]: tu\.dns is not an execute-unit instruction",
        edited(lambda m: set_word(m, "executeCode", 0, int(m.kernels[0].accessCode[0]))))
variant("tu_undefined_parent", r"access_code\[3\] tu\.dns: parent t5 is not defined",
        edited(lambda m: patch_code(m, "accessCode", "tu.dns", {"tu": 1}, parent=5)))
variant("stream_used_before_definition", r"access_code\[2\] str\.mem: index reads stream s9 before it is defined",
        edited(lambda m: patch_code(m, "accessCode", "str.mem", {"stream": 1}, index=Src(SrcKind.STREAM, 9))))
variant("operator_slot_dtype_mismatch",
        r"operators\[0\]: tensor 0 has dtype int64 but slot 0 wants int32",
        edited(lambda m: setattr(m.tensors[0], "dtype", dtypes.BY_NAME["int64"].code)))
variant("instruction_slot_dtype_mismatch", r"vst: dtype f16 does not match slot 'out' \(float32\)",
        edited(lambda m: patch_code(m, "executeCode", "vst", dtype=dtypes.BY_NAME["float16"].code)))
variant("execute_code_empty", r"execute_code is empty",
        edited(lambda m: (setattr(m.kernels[0], "executeCode", np.zeros(0, np.uint64)),
                          setattr(m.kernels[0], "jumpTables", []))))

# -- dataflow ----------------------------------------------------------------------
# gather.dasm: tensor 0 "ids" (signature input), 1 "table" (constant), 2 "out" (the kernel's output)


def _copy_map(item):
    copy = fb.TensorMapT()
    copy.name, copy.tensor = item.name, item.tensor
    return copy


def _second_signature(m):
    twin = fb.SignatureDefT()
    twin.key, twin.subgraph = m.signatureDefs[0].key, 0
    twin.inputs = [_copy_map(i) for i in m.signatureDefs[0].inputs]
    twin.outputs = [_copy_map(o) for o in m.signatureDefs[0].outputs]
    m.signatureDefs.append(twin)


variant("signature_inputs_same_name", r"signature_defs\[0\]: two inputs named 'ids'",
        edited(lambda m: m.signatureDefs[0].inputs.append(_copy_map(m.signatureDefs[0].inputs[0]))))
variant("signature_key_twice", r"signature_defs\[1\]: a second signature 'serving_default'",
        edited(_second_signature))
variant("signature_output_unwritten", r"signature_defs\[0\]: output 'out' \(tensor 2\) is written by no operator",
        edited(lambda m: setattr(m.subgraphs[0], "operators", [])))
variant("operator_reads_before_written", r"signature_defs\[0\] operator 0: reads tensor 2, which is no signature "
                                         r"input, constant or output of an earlier operator",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "inputs", [0, 2])))
variant("operator_writes_a_constant", r"signature_defs\[0\] operator 0: writes tensor 1, a signature input or a "
                                      r"constant",
        edited(lambda m: setattr(m.subgraphs[0].operators[0], "outputs", [1])))

# The real console script: one or two of each kind.
SUBPROCESS_VARIANTS = [
    "truncated_to_0", "truncated_to_half", "truncated_to_len-1", "external_truncated_to_len-1",
    "file_identifier_TFL3", "root_offset_negative", "model_vtable_size_odd",
    "length_7fffffff_tensors", "length_7fffffff_buffers_1_data", "length_7fffffff_kernels_0_execute_code",
    "tensor_name_not_utf8", "external_offset_past_end", "schema_version_newer", "kernel_name_with_newline",
    "min_runtime_version_newer", "operator_tensor_index", "label_beyond_code", "stray_bits", "tu_undefined_parent",
    "operator_slot_dtype_mismatch", "one_kernel_shared_1000_times", "param_element_of_float_slot",
    "param_unknown_kind", "signature_output_unwritten",
]


# ---------------------------------------------------------------------------
# checks


def assert_one_line_error(path: pathlib.Path, stdout: str, stderr: str, expect: str) -> None:
    assert "Traceback" not in stdout + stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"ember-tf: error: {path}: "), lines[0]
    assert re.search(expect, lines[0]), f"{lines[0]!r} does not match {expect!r}"
    assert stdout == ""


def inspect_in_process(path: pathlib.Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        cli.main(cli._parse(["ember-tf", "inspect", str(path)]))
        code = 0
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def test_there_are_enough_distinct_variants():
    assert len(VARIANTS) >= 30
    contents = {build() for build, _ in VARIANTS.values()}
    assert len(contents) == len(VARIANTS), "two variants produce the same bytes"
    assert not contents & {inline_bytes(), external_bytes()}


def test_valid_inputs_are_valid(tmp_path, capsys):
    """The starting points themselves read back and inspect cleanly."""
    for name, data in (("inline", inline_bytes()), ("external", external_bytes())):
        path = tmp_path / f"{name}.daebin"
        path.write_bytes(data)
        model = dae_isa.read_model(path)
        assert dae_isa.serialize_model(model, external_threshold=SMALL_THRESHOLD if name == "external" else
                                       writer.DEFAULT_EXTERNAL_THRESHOLD) == data
        code, out, err = inspect_in_process(path, capsys)
        assert (code, err) == (0, "") and out.startswith(f"{path}: ")
    assert locate(external_bytes(), "buffers", 1, "offset")  # the external layout really is external


def test_shared_kernel_is_rejected_only_for_its_sharing():
    """Two references to one kernel are fine; a thousand are refused."""
    model = dae_isa.model_from_buffer(_shared_kernel(copies=2))
    assert len(model.kernels) == 2 and len(model.kernels[1].executeCode) == 2017


@pytest.mark.parametrize("name", list(VARIANTS))
def test_variant_is_rejected(name, tmp_path, capsys):
    build, expect = VARIANTS[name]
    path = tmp_path / f"{name}.daebin"
    path.write_bytes(build())

    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(DaebinFormatError) as info:
            dae_isa.read_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - start < TIMEOUT / 4
    assert peak < MAX_PEAK_BYTES, f"reading allocated {peak:,} bytes"
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert re.search(expect, message), f"{message!r} does not match {expect!r}"

    code, out, err = inspect_in_process(path, capsys)
    assert code == 2
    assert_one_line_error(path, out, err, expect)


def test_real_command_rejects_variants(tmp_path):
    """`ember-tf inspect` as installed, run concurrently on a representative subset."""
    assert len(SUBPROCESS_VARIANTS) >= 12 and set(SUBPROCESS_VARIANTS) <= set(VARIANTS)
    paths = {}
    for name in SUBPROCESS_VARIANTS:
        paths[name] = tmp_path / f"{name}.daebin"
        paths[name].write_bytes(VARIANTS[name][0]())
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}

    def run(path):
        return subprocess.run([str(EMBER_TF), "inspect", str(path)], capture_output=True, text=True,
                              timeout=TIMEOUT, env=env, stdin=subprocess.DEVNULL)

    with concurrent.futures.ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        results = dict(zip(paths, pool.map(run, paths.values())))
    for name, result in results.items():
        assert result.returncode == 2, (name, result.stderr)
        assert_one_line_error(paths[name], result.stdout, result.stderr, VARIANTS[name][1])


# ---------------------------------------------------------------------------
# every truncation, and deterministic byte flips


@pytest.mark.parametrize("layout", ["inline", "external"])
def test_every_truncation_is_rejected(layout):
    data = inline_bytes() if layout == "inline" else external_bytes()
    lengths = range(len(data)) if layout == "inline" else sorted({*range(0, len(data), 37), *range(len(data) - 80,
                                                                                                     len(data))})
    for length in lengths:
        with pytest.raises(DaebinFormatError):
            dae_isa.model_from_buffer(data[:length])


def _flips() -> list[tuple[int, int]]:
    """(position, xor mask) pairs: every header byte, then a fixed random sample."""
    size = len(inline_bytes())
    rng = random.Random(0xDAE1)
    flips = [(pos, 0xFF) for pos in range(8)]
    flips += [(pos, rng.randrange(1, 256)) for pos in sorted(rng.sample(range(8, size), 56))]
    return flips


@pytest.mark.parametrize("position, mask", _flips())
def test_flipped_byte_is_rejected_or_reads_as_a_valid_model(position, mask, tmp_path, capsys):
    data = bytearray(inline_bytes())
    data[position] ^= mask
    path = tmp_path / f"flip_{position}_{mask:02x}.daebin"
    path.write_bytes(data)
    try:
        model = dae_isa.read_model(path)
    except DaebinFormatError as e:
        assert str(e).startswith(f"{path}: ") and "\n" not in str(e)
        code, out, err = inspect_in_process(path, capsys)
        assert code == 2
        assert_one_line_error(path, out, err, ".")
        return
    # Accepted: then it must be a model the writer would write too, whose text
    # form assembles, and that inspects cleanly.
    again = dae_isa.model_from_buffer(dae_isa.serialize_model(model))
    assert dae_isa.disassemble(again) == dae_isa.disassemble(model)
    dae_isa.assemble(dae_isa.disassemble(model), "<flipped>")
    code, out, err = inspect_in_process(path, capsys)
    assert (code, err) == (0, "") and out.startswith(f"{path}: ")
