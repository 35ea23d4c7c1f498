"""Writing tables without holding them: StreamedData buffers (a table read block by block as
the file is written), pieces of a read-only file mapping dropped once written, and large
files written around the page cache (O_DIRECT) -- each giving the very bytes of the plain
path, and failing without leaving a file behind."""

from __future__ import annotations

import errno
import mmap
import os

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.dae_isa import mapped, writer
from ember_tf.dae_isa.writer import StreamedData, buffer_bytes
from tests.dae_isa.test_external_buffers import DIM, THRESHOLD, gather_model

ROWS = 3000   # 240,000 bytes of table: many pieces of the small sizes below


def _table() -> np.ndarray:
    return np.random.default_rng(5).standard_normal((ROWS, DIM), dtype=np.float32)


def _streamed_model(table: np.ndarray, piece_rows: int = 97, calls: list | None = None):
    """gather_model with its table as StreamedData yielding `piece_rows` rows at a time."""
    model = gather_model(table=table)

    def pieces(max_bytes):
        if calls is not None:
            calls.append(1)
        for start in range(0, len(table), piece_rows):
            yield table[start:start + piece_rows].copy()   # a fresh array each time, as a reader's block

    model.buffers[1].data = StreamedData(table.nbytes, pieces)
    model.buffers[1].offset, model.buffers[1].size = 1, table.nbytes
    return model


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(writer, "PIECE_BYTES", 4096)


def test_streamed_data_writes_the_bytes_of_the_array(tmp_path, small_pieces):
    table = _table()
    expected = dae_isa.serialize_model(gather_model(table=table), external_threshold=THRESHOLD)
    calls = []
    model = _streamed_model(table, calls=calls)
    assert dae_isa.serialize_model(model, external_threshold=THRESHOLD) == expected
    size = dae_isa.write_model(model, tmp_path / "m.daebin", external_threshold=THRESHOLD)
    assert (tmp_path / "m.daebin").read_bytes() == expected and size == len(expected)
    assert len(calls) == 2   # read once per file written, never to count the bytes
    assert bytes(buffer_bytes(model.buffers[1])) == table.tobytes()


@pytest.mark.parametrize("rows", [ROWS - 1, ROWS + 1], ids=["short", "long"])
def test_a_stream_of_the_wrong_length_fails_and_leaves_no_file(tmp_path, rows):
    model = _streamed_model(_table())
    model.buffers[1].data = StreamedData(ROWS * DIM * 4, _streamed_model(np.zeros((rows, DIM), np.float32))
                                         .buffers[1].data._pieces)
    with pytest.raises(ValueError, match="streamed buffer data"):
        dae_isa.write_model(model, tmp_path / "m.daebin", external_threshold=THRESHOLD)
    assert list(tmp_path.iterdir()) == []


def test_an_error_inside_the_stream_leaves_no_file(tmp_path):
    model = gather_model(table=_table())

    def pieces(max_bytes):
        yield b"\0" * 100
        raise OSError(errno.EIO, "the checkpoint went away")

    model.buffers[1].data = StreamedData(ROWS * DIM * 4, pieces)
    model.buffers[1].offset = 1
    with pytest.raises(OSError, match="went away"):
        dae_isa.write_model(model, tmp_path / "m.daebin", external_threshold=THRESHOLD)
    assert list(tmp_path.iterdir()) == []


def test_pieces_of_a_mapped_file_are_dropped_once_written(tmp_path, monkeypatch, small_pieces):
    table = _table()
    np.save(tmp_path / "table.npy", table)
    mapped_table = np.load(tmp_path / "table.npy", mmap_mode="r")
    dropped = []
    monkeypatch.setattr(writer, "drop_pages", lambda piece: dropped.append(piece))
    model = gather_model(table=mapped_table)
    assert dae_isa.serialize_model(model, external_threshold=THRESHOLD) == \
        dae_isa.serialize_model(gather_model(table=table), external_threshold=THRESHOLD)
    assert len(dropped) == -(-table.nbytes // 4096)   # every piece of the table, one at a time
    assert all(mapped.read_only_mapping(piece) is not None for piece in dropped)


def test_read_only_mappings_are_told_from_memory_that_must_stay(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(4096, dtype=np.float32))
    read_only = np.load(tmp_path / "a.npy", mmap_mode="r")
    assert mapped.read_only_mapping(read_only) is not None
    assert mapped.read_only_mapping(memoryview(read_only.reshape(-1).view(np.uint8))) is not None
    assert mapped.read_only_mapping(np.load(tmp_path / "a.npy", mmap_mode="c")) is None   # private pages
    assert mapped.read_only_mapping(np.load(tmp_path / "a.npy", mmap_mode="r+")) is None  # writable
    assert mapped.read_only_mapping(np.arange(10)) is None
    assert mapped.read_only_mapping(memoryview(b"bytes")) is None
    dae_isa.write_model(gather_model(), tmp_path / "m.daebin", external_threshold=THRESHOLD)
    model = dae_isa.read_model(tmp_path / "m.daebin")   # the reader's views of its mmap
    assert mapped.read_only_mapping(model.buffers[1].data) is not None
    before = read_only.copy()
    mapped.drop_pages(read_only)   # dropped, then read again from the file: nothing is lost
    np.testing.assert_array_equal(read_only, before)
    ordinary = np.arange(100000, dtype=np.float64)
    mapped.drop_pages(ordinary)     # ordinary memory is never dropped (MADV_DONTNEED would zero it)
    np.testing.assert_array_equal(ordinary, np.arange(100000, dtype=np.float64))


@pytest.fixture
def direct(monkeypatch):
    """Every file with external data written around the page cache, through a tiny staging buffer."""
    monkeypatch.setattr(writer, "DIRECT_MIN_BYTES", 0)
    monkeypatch.setattr(writer, "DIRECT_STAGING_BYTES", 2 * mmap.PAGESIZE)


@pytest.mark.parametrize("rows", [ROWS, 1, 2 * mmap.PAGESIZE // (DIM * 4)], ids=["many_pages", "tiny", "whole_stages"])
def test_direct_writes_give_the_same_bytes(tmp_path, direct, rows):
    table = np.random.default_rng(rows).standard_normal((rows, DIM), dtype=np.float32)
    expected = dae_isa.serialize_model(gather_model(table=table), external_threshold=1)
    seen = {}
    size = dae_isa.write_model(gather_model(table=table), tmp_path / "m.daebin", external_threshold=1,
                               _before_rename=lambda out: seen.setdefault("size", os.fstat(out.fileno()).st_size))
    assert (tmp_path / "m.daebin").read_bytes() == expected and size == len(expected) == seen["size"]
    assert [p.name for p in tmp_path.iterdir()] == ["m.daebin"]


def test_where_direct_writes_are_refused_the_file_is_written_as_usual(tmp_path, direct, monkeypatch):
    table = _table()
    expected = dae_isa.serialize_model(gather_model(table=table), external_threshold=THRESHOLD)
    real = os.pwrite

    def refuse(fd, data, offset):
        raise OSError(errno.EINVAL, "Invalid argument")

    monkeypatch.setattr(os, "pwrite", refuse)
    dae_isa.write_model(gather_model(table=table), tmp_path / "a.daebin", external_threshold=THRESHOLD)
    assert (tmp_path / "a.daebin").read_bytes() == expected
    monkeypatch.setattr(os, "pwrite", real)
    monkeypatch.delattr(os, "O_DIRECT", raising=False)
    dae_isa.write_model(gather_model(table=table), tmp_path / "b.daebin", external_threshold=THRESHOLD)
    assert (tmp_path / "b.daebin").read_bytes() == expected


def test_a_failing_direct_write_leaves_no_file(tmp_path, direct, monkeypatch):
    calls = []

    def fail_later(fd, data, offset):
        calls.append(offset)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return len(data)

    monkeypatch.setattr(os, "pwrite", fail_later)
    with pytest.raises(OSError, match="No space"):
        dae_isa.write_model(gather_model(table=_table()), tmp_path / "m.daebin", external_threshold=THRESHOLD)
    assert list(tmp_path.iterdir()) == []
