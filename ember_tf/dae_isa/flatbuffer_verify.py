"""Structural verification of an untrusted .daebin FlatBuffer before any accessor runs.

The flatbuffers Python runtime trusts its input: an offset past the end raises
an unhelpful struct.error, a negative one silently reads from the end, and a
corrupted vector length makes the object API loop for billions of elements.
This walks every table, vector and string the schema reaches and checks that
each one lies inside the buffer, the same checks as the C++ Verifier.

TABLES mirrors schema/dae.fbs (field i is the i-th declared field);
tests/dae_isa/test_schema.py checks it against the generated module.
"""

from __future__ import annotations

import struct

from ember_tf.errors import DaebinFormatError

MAX_DEPTH = 64
MAX_TABLES = 1_000_000
# Table and vector bytes reached, per byte of file. Objects reached from
# several places count each time: the writer never shares them, and a small
# file that did (one kernel listed 100,000 times) would make the object API
# and the instruction decoder work out of all proportion to its size.
MAX_REACHED_PER_FILE_BYTE = 4

# Field types: a struct format char for scalars, or a tuple for references.
STRING = ("string",)


def vec(element):
    """A vector of a scalar format char, of STRING, or of a table name."""
    return ("vector", element)


def table(name):
    return ("table", name)


def _fields(spec: str, *types) -> tuple:
    """Pairs (field name, type) in declaration order; spec lists the names."""
    names = spec.split()
    assert len(names) == len(types)
    return tuple(zip(names, types))


TABLES: dict[str, tuple] = {
    "Buffer": _fields("data offset size", vec("B"), "Q", "Q"),
    "Tensor": _fields("name shape shape_signature dtype buffer", STRING, vec("q"), vec("q"), "b", "I"),
    "KernelSlot": _fields("name dtype rank access shape placement hot_rows", STRING, "b", "i", "b", vec("q"), "b",
                          "q"),
    "KernelParam": _fields("slot dim add kind element", "i", "i", "q", "b", "q"),
    "MachineParams": _fields(
        "name lanes traversal_groups lane_storage_bytes outstanding_requests vector_bytes queue_chunk_bytes "
        "has_access_unit", STRING, "I", "I", "I", "I", "I", "I", "B"),
    "JumpTable": _fields("targets", vec("I")),
    "Kernel": _fields(
        "name version machine slots params access_code execute_code int_constants float_constants jump_tables "
        "copies", STRING, "I", table("MachineParams"), vec(table("KernelSlot")), vec(table("KernelParam")),
        vec("Q"), vec("Q"), vec("q"), vec("d"), vec(table("JumpTable")), "I"),
    "HostSegment": _fields("name format buffer input_names output_names", STRING, "b", "I", vec(STRING), vec(STRING)),
    "Operator": _fields("kind index inputs outputs core_offset core_count", "b", "I", vec("i"), vec("i"), "I", "I"),
    "SubGraph": _fields("name inputs outputs operators", STRING, vec("i"), vec("i"), vec(table("Operator"))),
    "TensorMap": _fields("name tensor", STRING, "I"),
    "SignatureDef": _fields("key subgraph inputs outputs", STRING, "I", vec(table("TensorMap")), vec(table("TensorMap"))),
    "Metadata": _fields("name buffer", STRING, "I"),
    "Model": _fields(
        "version description buffers tensors kernels host_segments subgraphs signature_defs metadata",
        "I", STRING, vec(table("Buffer")), vec(table("Tensor")), vec(table("Kernel")),
        vec(table("HostSegment")), vec(table("SubGraph")), vec(table("SignatureDef")), vec(table("Metadata"))),
}

_U8, _U16, _U32, _I32 = struct.Struct("<B"), struct.Struct("<H"), struct.Struct("<I"), struct.Struct("<i")


class _Verifier:
    def __init__(self, buf):
        self.buf = memoryview(buf)
        self.size = len(self.buf)
        self.tables = 0
        self.end = 0  # one past the last byte any verified object uses
        self.reached = 0  # bytes of tables and vectors reached, counting repeats

    def fail(self, where: str, problem: str):
        raise DaebinFormatError(f"{where}: {problem}")

    def need(self, pos: int, length: int, align: int, where: str) -> None:
        if pos < 0 or pos + length > self.size:
            hint = " (truncated?)" if pos >= 0 else ""
            self.fail(where, f"offset {pos} (+{length} bytes) lies outside the {self.size}-byte file{hint}")
        if pos % align:
            self.fail(where, f"offset {pos} is not {align}-byte aligned")
        self.end = max(self.end, pos + length)

    def u32(self, pos: int, where: str) -> int:
        self.need(pos, 4, 4, where)
        return _U32.unpack_from(self.buf, pos)[0]

    def follow(self, pos: int, where: str) -> int:
        """The target of the uoffset stored at pos."""
        target = pos + self.u32(pos, where)
        self.need(target, 4, 4, where)
        return target

    def reach(self, length: int, where: str) -> None:
        self.reached += length
        if self.reached > MAX_REACHED_PER_FILE_BYTE * self.size:
            self.fail(where, f"tables and vectors reached add up to more than {MAX_REACHED_PER_FILE_BYTE}x the "
                             "file size (objects shared by many references)")

    def vector(self, pos: int, elem_size: int, where: str) -> tuple[int, int]:
        length = self.u32(pos, where)
        self.need(pos + 4, length * elem_size, min(elem_size, 8), f"{where} ({length} elements)")
        self.reach(4 + length * elem_size, where)
        return pos + 4, length

    def string(self, pos: int, where: str) -> None:
        start, length = self.vector(pos, 1, where)
        self.need(start + length, 1, 1, where)
        if self.buf[start + length] != 0:
            self.fail(where, "string is not NUL-terminated")

    def table(self, pos: int, name: str, where: str, depth: int) -> None:
        self.tables += 1
        if depth > MAX_DEPTH or self.tables > MAX_TABLES:
            self.fail(where, "tables nested too deeply or too many")
        self.need(pos, 4, 4, where)
        vtable = pos - _I32.unpack_from(self.buf, pos)[0]
        self.need(vtable, 4, 2, f"{where} vtable")
        vt_size, table_size = _U16.unpack_from(self.buf, vtable)[0], _U16.unpack_from(self.buf, vtable + 2)[0]
        if vt_size < 4 or vt_size % 2:
            self.fail(where, f"bad vtable size {vt_size}")
        self.need(vtable, vt_size, 2, f"{where} vtable")
        self.need(pos, table_size, 4, where)
        self.reach(table_size, where)
        for index, (field_name, ftype) in enumerate(TABLES[name]):
            if 4 + 2 * index >= vt_size:
                break
            voffset = _U16.unpack_from(self.buf, vtable + 4 + 2 * index)[0]
            if voffset == 0:
                continue
            field_where = f"{where}.{field_name}"
            if isinstance(ftype, str):
                width = struct.calcsize("<" + ftype)
                if voffset + width > table_size:
                    self.fail(field_where, "field lies outside its table")
                self.need(pos + voffset, width, width, field_where)
                continue
            if voffset + 4 > table_size:
                self.fail(field_where, "field lies outside its table")
            self.reference(self.follow(pos + voffset, field_where), ftype, field_where, depth)

    def reference(self, target: int, ftype: tuple, where: str, depth: int) -> None:
        if ftype is STRING:
            self.string(target, where)
        elif ftype[0] == "table":
            self.table(target, ftype[1], where, depth + 1)
        else:
            element = ftype[1]
            if isinstance(element, str):
                self.vector(target, struct.calcsize("<" + element), where)
                return
            start, length = self.vector(target, 4, where)
            for i in range(length):
                self.reference(self.follow(start + 4 * i, f"{where}[{i}]"), element, f"{where}[{i}]", depth)


def verify_structure(buf, identifier: bytes = b"DAE1") -> None:
    """Raises DaebinFormatError unless buf is a well-formed Model FlatBuffer."""
    verifier = _Verifier(buf)
    if verifier.size < 8:
        verifier.fail("header", f"file is {verifier.size} bytes, too short for a FlatBuffer (truncated?)")
    if bytes(verifier.buf[4:8]) != identifier:
        verifier.fail("header", f"file identifier is {bytes(verifier.buf[4:8])!r}, expected {identifier!r}")
    verifier.table(verifier.follow(0, "root"), "Model", "model", 0)
    # As the C++ SizeVerifier computes it: a FlatBuffer is padded to a whole
    # uoffset after its last object, so a shorter file has lost its tail.
    needed = -(-verifier.end // 4) * 4
    if needed > verifier.size:
        verifier.fail("model", f"file is {verifier.size} bytes but its FlatBuffer needs {needed}: truncated")
