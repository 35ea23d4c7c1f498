"""Buffers stored after the FlatBuffer (the > 2 GiB layout), and the writer's
determinism and atomicity.

With a lowered external_threshold the layout of a multi-GiB model is
exercised on a few KiB; one slow test (EMBER_SLOW=1) writes a real > 2 GiB
file with the default threshold.
"""

from __future__ import annotations

import json
import os
import pathlib
import struct

import numpy as np
import pytest

from ember_tf import cli, dae_isa
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import writer
from ember_tf.dae_isa.writer import EXTERNAL_ALIGNMENT, buffer_bytes
from ember_tf.errors import DaebinFormatError
from ember_tf.version import RUNTIME_VERSION

ROOT = pathlib.Path(__file__).resolve().parents[2]
GATHER = ROOT / "kernels" / "gather.dasm"
THRESHOLD = 1 << 10  # 1 KiB
ROWS, DIM = 64, 20  # the embedding table: 5,120 bytes of float32, over the threshold
RUNTIME = ".".join(map(str, RUNTIME_VERSION)).encode()


def gather_model(rows: int = ROWS, table: np.ndarray | None = None) -> fb.ModelT:
    """gather.dasm with a `rows` x DIM table (seeded values) and a
    min_runtime_version metadata entry: two constant buffers."""
    model = dae_isa.assemble(GATHER.read_text(encoding="utf-8"), str(GATHER))
    if table is None:
        table = np.random.default_rng(1234).standard_normal((rows, DIM), dtype=np.float32)
    tensor = model.tensors[1]
    assert tensor.name == "table" and tensor.buffer == 1
    tensor.shape, tensor.shapeSignature = list(table.shape), list(table.shape)  # as the assembler sets them
    model.buffers[1].data = table.reshape(-1).view(np.uint8)
    metadata = fb.BufferT()
    metadata.data, metadata.offset, metadata.size = np.frombuffer(RUNTIME, dtype=np.uint8), 0, 0
    model.buffers.append(metadata)
    entry = fb.MetadataT()
    entry.name, entry.buffer = "min_runtime_version", 2
    model.metadata.append(entry)
    return model


def without_buffer_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith(".buffer ")]


def assert_same_tables(a: fb.ModelT, b: fb.ModelT) -> None:
    """Same contents in every table; where the buffer bytes live may differ."""
    assert [bytes(buffer_bytes(x)) for x in a.buffers] == [bytes(buffer_bytes(y)) for y in b.buffers]
    assert without_buffer_lines(dae_isa.disassemble(a)) == without_buffer_lines(dae_isa.disassemble(b))


@pytest.fixture
def external_file(tmp_path) -> pathlib.Path:
    path = tmp_path / "external.daebin"
    dae_isa.write_model(gather_model(), path, external_threshold=THRESHOLD)
    return path


def test_buffers_over_the_threshold_are_stored_after_the_flatbuffer(external_file):
    raw = external_file.read_bytes()
    root = fb.Model.GetRootAs(raw, 0)
    expected = [bytes(buffer_bytes(b)) for b in gather_model().buffers]
    assert root.BuffersLength() == 3
    assert root.Buffers(0).Offset() == 0 and root.Buffers(0).DataLength() == 0  # the empty sentinel stays inline
    ends = []
    for i in (1, 2):
        buffer = root.Buffers(i)
        offset, size = buffer.Offset(), buffer.Size()
        assert offset > 0 and offset % EXTERNAL_ALIGNMENT == 0
        assert buffer.DataIsNone()  # no inline copy
        assert size == len(expected[i])
        assert raw[offset:offset + size] == expected[i]
        ends.append(offset + size)
    first = root.Buffers(1).Offset()
    assert expected[1] not in raw[:first]  # nothing of the table lives inside the FlatBuffer
    assert set(raw[ends[0]:root.Buffers(2).Offset()]) <= {0}  # zero padding between buffers
    assert len(raw) == ends[-1]  # the file ends with the last buffer


def test_the_same_model_under_the_default_threshold_is_all_inline(tmp_path):
    path = tmp_path / "inline.daebin"
    dae_isa.write_model(gather_model(), path)
    root = fb.Model.GetRootAs(path.read_bytes(), 0)
    assert all(root.Buffers(i).Offset() == 0 for i in range(root.BuffersLength()))
    assert root.Buffers(1).DataLength() == ROWS * DIM * 4


def test_external_file_reads_back_with_identical_tables(external_file):
    model = dae_isa.read_model(external_file)
    original = gather_model()
    assert_same_tables(model, original)
    table = model.buffers[1].data
    assert isinstance(table, np.ndarray) and not table.flags.writeable  # a view of the mapped file
    np.testing.assert_array_equal(table.view(np.float32).reshape(ROWS, DIM),
                                  np.asarray(original.buffers[1].data).view(np.float32).reshape(ROWS, DIM))
    assert [b.offset > 0 for b in model.buffers] == [False, True, True]
    assert model.metadata[0].name == "min_runtime_version"


def test_reserializing_gives_identical_bytes(external_file):
    raw = external_file.read_bytes()
    assert dae_isa.serialize_model(dae_isa.read_model(external_file), external_threshold=THRESHOLD) == raw
    assert dae_isa.serialize_model(dae_isa.model_from_buffer(raw), external_threshold=THRESHOLD) == raw
    assert dae_isa.serialize_model(gather_model(), external_threshold=THRESHOLD) == raw


def test_identical_input_gives_identical_bytes(tmp_path):
    paths = [tmp_path / "a.daebin", tmp_path / "b.daebin"]
    for path in paths:
        dae_isa.write_model(gather_model(), path, external_threshold=THRESHOLD)
    assert paths[0].read_bytes() == paths[1].read_bytes()
    other = gather_model(table=np.asarray(gather_model().buffers[1].data).view(np.float32).reshape(ROWS, DIM) + 1)
    assert dae_isa.serialize_model(other, external_threshold=THRESHOLD) != paths[0].read_bytes()


def test_offset_marks_survive_read_then_write(external_file, tmp_path):
    """A model read from an external file keeps that layout when written
    again, even under the default threshold (read-modify-write keeps it)."""
    again = tmp_path / "again.daebin"
    dae_isa.write_model(dae_isa.read_model(external_file), again)
    assert again.read_bytes() == external_file.read_bytes()
    assert dae_isa.serialize_model(dae_isa.read_model(again)) == external_file.read_bytes()


def test_disassemble_assemble_write_reproduces_the_bytes(external_file, tmp_path):
    text = dae_isa.disassemble(dae_isa.read_model(external_file))
    assert ".buffer 1 external=true" in text and ".buffer 2 external=true" in text
    again = tmp_path / "again.daebin"
    dae_isa.write_model(dae_isa.assemble(text, "<disassembly>"), again)
    assert again.read_bytes() == external_file.read_bytes()


def test_external_min_runtime_version_is_checked(tmp_path):
    """The version entry is read from the data after the FlatBuffer: accepted
    when it is this runtime, refused when newer."""
    model = gather_model()
    newer = (*RUNTIME_VERSION[:-1], RUNTIME_VERSION[-1] + 1)
    model.buffers[2].data = np.frombuffer(".".join(map(str, newer)).encode(), dtype=np.uint8)
    path = tmp_path / "newer.daebin"
    head, tail = writer._layout(model, THRESHOLD)  # bypass the writer's own check
    path.write_bytes(b"".join(bytes(c) for c in writer._chunks(head, tail)))
    assert fb.Model.GetRootAs(path.read_bytes(), 0).Buffers(2).Offset() > 0
    with pytest.raises(DaebinFormatError, match=r"metadata\[0\]: needs runtime"):
        dae_isa.read_model(path)


def _inspect(path, capsys, *flags) -> str:
    capsys.readouterr()
    cli.main(cli._parse(["ember-tf", "inspect", *flags, str(path)]))
    out, err = capsys.readouterr()
    assert err == ""
    return out


def test_inspect_reports_external_buffers(external_file, capsys):
    table_bytes, meta_bytes = ROWS * DIM * 4, len(RUNTIME)
    text = _inspect(external_file, capsys)
    assert (f"buffers: 3 holding {table_bytes + meta_bytes:,} bytes "
            f"(2 stored after the FlatBuffer, {table_bytes + meta_bytes:,} bytes)") in text
    assert f"min_runtime_version: {RUNTIME.decode()}" in text
    assert f"{external_file.stat().st_size:,} bytes" in text
    info = json.loads(_inspect(external_file, capsys, "--json"))
    assert info["buffers"] == {"count": 3, "bytes": table_bytes + meta_bytes, "external": 2,
                               "external_bytes": table_bytes + meta_bytes}
    assert info["tensors"][1]["bytes"] == table_bytes


def test_inspect_of_an_inline_file_reports_no_external_buffers(tmp_path, capsys):
    path = tmp_path / "inline.daebin"
    dae_isa.write_model(gather_model(), path)
    assert "stored after the FlatBuffer" not in _inspect(path, capsys)
    assert json.loads(_inspect(path, capsys, "--json"))["buffers"]["external"] == 0


def test_progress_reaches_the_file_size(tmp_path):
    calls = []
    size = dae_isa.write_model(gather_model(), tmp_path / "p.daebin", external_threshold=THRESHOLD,
                               progress=lambda done, total: calls.append((done, total)))
    assert size == (tmp_path / "p.daebin").stat().st_size
    assert calls[-1] == (size, size)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


# ---------------------------------------------------------------------------
# atomicity


class Boom(Exception):
    pass


def _raise(error):
    def hook(_file):
        raise error
    return hook


@pytest.mark.parametrize("error", [Boom("disk full"), OSError(28, "No space left on device"), KeyboardInterrupt()],
                         ids=["exception", "oserror", "interrupt"])
@pytest.mark.parametrize("previous", [True, False], ids=["replacing", "new"])
def test_a_failed_write_leaves_the_destination_untouched(tmp_path, error, previous):
    destination = tmp_path / "model.daebin"
    if previous:
        dae_isa.write_model(gather_model(rows=3), destination)
    before = destination.read_bytes() if previous else None
    with pytest.raises(type(error)):
        dae_isa.write_model(gather_model(), destination, external_threshold=THRESHOLD, _before_rename=_raise(error))
    assert sorted(p.name for p in tmp_path.iterdir()) == (["model.daebin"] if previous else [])
    if previous:
        assert destination.read_bytes() == before
        dae_isa.read_model(destination)


def test_a_failure_while_writing_chunks_leaves_no_temporary_file(tmp_path):
    destination = tmp_path / "model.daebin"

    def progress(done, total):
        if done > 0:
            raise Boom("stop after the first chunk")

    with pytest.raises(Boom):
        dae_isa.write_model(gather_model(), destination, external_threshold=THRESHOLD, progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_the_hook_sees_the_complete_file_before_the_rename(tmp_path):
    destination = tmp_path / "model.daebin"
    seen = {}

    def hook(out):
        out.flush()
        seen["temporary"] = [p.name for p in tmp_path.iterdir()]
        seen["size"] = os.fstat(out.fileno()).st_size
        seen["exists"] = destination.exists()

    size = dae_isa.write_model(gather_model(), destination, external_threshold=THRESHOLD, _before_rename=hook)
    assert seen["size"] == size and not seen["exists"]
    assert len(seen["temporary"]) == 1 and seen["temporary"][0].startswith(".model.daebin.")
    assert [p.name for p in tmp_path.iterdir()] == ["model.daebin"]


# ---------------------------------------------------------------------------
# a real > 2 GiB file

BIG_DIM = 64
BIG_ROWS = -(-int(2.1 * (1 << 30)) // (BIG_DIM * 4))  # 2.1 GiB of float32 rows


@pytest.fixture
def big_path(tmp_path):
    path = tmp_path / "big.daebin"
    yield path
    path.unlink(missing_ok=True)  # pytest keeps recent tmp dirs; do not leave 2 GiB behind


@pytest.mark.slow
def test_a_file_over_2_gib_round_trips(big_path):
    table = np.zeros((BIG_ROWS, BIG_DIM), dtype=np.float32)  # untouched pages cost no memory
    probes = {(0, 0): 1.5, (0, BIG_DIM - 1): -2.25, (BIG_ROWS // 2, 7): 42.0, (BIG_ROWS - 1, BIG_DIM - 1): -3.5}
    for (row, col), value in probes.items():
        table[row, col] = value
    table[BIG_ROWS // 3] = np.arange(BIG_DIM, dtype=np.float32)
    model = gather_model(table=table)

    path = big_path
    size = dae_isa.write_model(model, path)  # the default threshold
    assert size == path.stat().st_size > 1 << 31
    del model, table

    read = dae_isa.read_model(path)
    buffer = read.buffers[1]
    assert buffer.offset > 0 and buffer.offset % EXTERNAL_ALIGNMENT == 0 and buffer.size == BIG_ROWS * BIG_DIM * 4
    assert buffer.offset < 1 << 20  # the FlatBuffer itself stays small
    values = buffer.data.view(np.float32).reshape(BIG_ROWS, BIG_DIM)
    for (row, col), value in probes.items():
        assert values[row, col] == value
    assert values[1, 0] == 0 and values[BIG_ROWS - 2, 5] == 0
    np.testing.assert_array_equal(values[BIG_ROWS // 3], np.arange(BIG_DIM, dtype=np.float32))
    assert [int(d) for d in read.tensors[1].shape] == [BIG_ROWS, BIG_DIM]
    assert read.metadata[0].name == "min_runtime_version"
    with open(path, "rb") as f:  # and the bytes really are at that offset in the file
        f.seek(buffer.offset + buffer.size - 4)
        assert struct.unpack("<f", f.read(4))[0] == -3.5
