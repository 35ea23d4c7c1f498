"""Tables streamed from the checkpoint (grappler_like/checkpoint.py): what the tensor
bundle reader reads equals what TensorFlow's reader returns, a table larger than a block
converts to the very bytes the non-streamed path gives (sharded tables too) without ever
being held whole, and a corrupt or cut checkpoint is one line naming the file."""

from __future__ import annotations

import shutil
import tracemalloc

import numpy as np
import pytest

from ember_tf import Converter
from ember_tf.dae_isa import writer
from ember_tf.errors import SavedModelImportError
from ember_tf.grappler_like import checkpoint, saved_model
from ember_tf.grappler_like.checkpoint import crc32c_update, open_bundle
from tests.test_cli import ember_tf

tf = pytest.importorskip("tensorflow")
ml_dtypes = pytest.importorskip("ml_dtypes")

ROWS, DIM = 3000, 16          # 192,000 bytes of float32: many blocks of the sizes below
THRESHOLD = 1024              # every table stored after the FlatBuffer, streamed
PIECE = 4096


class _Tables(tf.Module):
    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(3)
        self.table = tf.Variable(rng.standard_normal((ROWS, DIM)).astype(np.float32))
        self.half = tf.Variable(rng.standard_normal((700, 8)).astype(np.float16))
        self.parts = [tf.Variable(p) for p in np.array_split(rng.standard_normal((1001, 8)).astype(np.float32), 3)]
        self.brain = tf.Variable(rng.standard_normal((50, 8)).astype(ml_dtypes.bfloat16))
        self.counts = tf.Variable(rng.integers(-9, 9, (40, 3)).astype(np.int64))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None], tf.int64)])
    def serve(self, ids, shard_ids):
        return {"rows": tf.nn.embedding_lookup(self.table, ids),
                "half": tf.nn.embedding_lookup(self.half, ids % 700),
                "sharded": tf.nn.embedding_lookup(self.parts, shard_ids)}


@pytest.fixture(scope="module")
def tables_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("checkpoint") / "model"
    module = _Tables()
    tf.saved_model.save(module, str(path), signatures=module.serve)
    return path


@pytest.fixture
def small_pieces(monkeypatch):
    monkeypatch.setattr(writer, "PIECE_BYTES", PIECE)


def _without_bundle(monkeypatch):
    """Every variable read through TensorFlow's reader, whole: the path before streaming."""
    monkeypatch.setattr(saved_model, "open_bundle", lambda prefix: None)


def test_the_crc32c_is_castagnoli():
    assert crc32c_update(0, b"123456789") == 0xE3069283
    assert crc32c_update(crc32c_update(0, b"1234"), b"56789") == 0xE3069283
    assert crc32c_update(0, b"") == 0


def test_every_tensor_reads_as_tensorflow_reads_it(tables_model):
    prefix = str(tables_model / "variables" / "variables")
    bundle = open_bundle(prefix)
    reader = tf.train.load_checkpoint(prefix)
    keys = [k for k in reader.get_variable_to_shape_map() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(keys) == 7
    for key in keys:
        tensor = bundle.tensor(key)
        want = reader.get_tensor(key)
        assert tensor is not None and tensor.dtype == want.dtype and tensor.shape == want.shape, key
        blocks = [b.copy() for b in tensor.blocks(1000)]   # blocks are reused: copy each
        assert len(blocks) == -(-want.nbytes // max(1000 // (want.nbytes // len(want)) * (want.nbytes // len(want)),
                                                    want.nbytes // len(want)))
        np.testing.assert_array_equal(np.concatenate(blocks), want)
    assert bundle.tensor("_CHECKPOINTABLE_OBJECT_GRAPH") is None   # a string: TensorFlow's reader's
    assert bundle.tensor("no/such/key") is None


@pytest.mark.parametrize("to_file", [False, True], ids=["convert", "convert_to_file"])
def test_a_table_larger_than_a_block_converts_to_the_same_bytes(tables_model, tmp_path, monkeypatch, small_pieces,
                                                                 to_file):
    def convert() -> bytes:
        converter = Converter.from_saved_model(tables_model, external_threshold=THRESHOLD)
        if not to_file:
            return converter.convert()
        out = tmp_path / "model.daebin"
        converter.convert_to_file(out)
        return out.read_bytes()

    streamed = convert()
    _without_bundle(monkeypatch)
    assert convert() == streamed
    assert np.random.default_rng(3).standard_normal((ROWS, DIM)).astype(np.float32).tobytes() in streamed


def _peak_while_writing(saved_model, path) -> int:
    """Python's peak allocations while the converted model is written to `path`."""
    model = Converter.from_saved_model(saved_model, external_threshold=THRESHOLD).build_model()
    tracemalloc.start()
    try:
        writer.write_model(model, path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_table_is_never_held_whole(tables_model, tmp_path, monkeypatch, small_pieces):
    """Python's allocations (numpy's among them) while a table of 192,000 bytes is converted
    stay far below its size: it goes from the checkpoint to the file a block at a time."""
    peak = _peak_while_writing(tables_model, tmp_path / "model.daebin")
    assert peak < ROWS * DIM * 4 // 4, peak
    _without_bundle(monkeypatch)
    whole_peak = _peak_while_writing(tables_model, tmp_path / "whole.daebin")
    assert (tmp_path / "whole.daebin").read_bytes() == (tmp_path / "model.daebin").read_bytes()
    assert peak < whole_peak


def _copy(tables_model, tmp_path):
    path = tmp_path / "model"
    shutil.copytree(tables_model, path)
    return path


def _table_offset(path) -> tuple[str, int]:
    tensor = open_bundle(str(path / "variables" / "variables")).tensor("table/.ATTRIBUTES/VARIABLE_VALUE")
    return tensor.path, tensor.offset


def test_a_corrupt_table_fails_its_checksum(tables_model, tmp_path):
    path = _copy(tables_model, tmp_path)
    data, offset = _table_offset(path)
    with open(data, "r+b") as f:
        f.seek(offset + 12345)
        byte = f.read(1)
        f.seek(offset + 12345)
        f.write(bytes([byte[0] ^ 0x10]))
    out = tmp_path / "model.daebin"
    with pytest.raises(SavedModelImportError, match="fails its checksum") as e:
        Converter.from_saved_model(path, external_threshold=THRESHOLD).convert_to_file(out)
    assert data in str(e.value) and "\n" not in str(e.value)
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["model"]
    result = ember_tf("convert", path, out)   # small tables, read whole: the checksum fails just the same
    assert result.returncode == 2 and "fails its checksum" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_a_cut_checkpoint_is_named(tables_model, tmp_path):
    path = _copy(tables_model, tmp_path)
    data, offset = _table_offset(path)
    with open(data, "r+b") as f:
        f.truncate(offset + 1000)
    with pytest.raises(SavedModelImportError, match="runs past the end") as e:
        Converter.from_saved_model(path, external_threshold=THRESHOLD).convert()
    assert data in str(e.value)


def test_an_index_this_reader_cannot_parse_goes_to_tensorflow(tables_model, tmp_path, monkeypatch):
    path = _copy(tables_model, tmp_path)
    assert open_bundle(str(path / "variables" / "variables")) is not None
    index = path / "variables" / "variables.index"
    data = bytearray(index.read_bytes())
    data[-1] ^= 0xFF   # the table magic: TensorFlow refuses it too
    index.write_bytes(bytes(data))
    assert open_bundle(str(path / "variables" / "variables")) is None
    with pytest.raises(SavedModelImportError) as e:
        Converter.from_saved_model(path, external_threshold=THRESHOLD).convert()
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_compressed_index_block_goes_to_tensorflow():
    with pytest.raises(checkpoint._Malformed, match="compressed"):
        checkpoint._block(b"abc\x01\0\0\0\0", 0, 3)
