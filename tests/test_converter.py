"""Whole models through `Converter`: a Criteo-like Keras 3 model (26 tables of varied
sizes and a dense MLP) and the DLRM-like tf.Module of the demo, both equal to
TensorFlow through the written and re-read .daebin; the API's options."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf import CompileOptions, Converter, Interpreter, dlrm
from ember_tf.errors import SavedModelImportError
from tests.conversion import assert_matches, offloaded_families, report

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

CRITEO_ROWS = (1460, 583, 10131, 2202, 305, 24, 12517, 633, 3, 9345, 5683, 8351, 3194, 27, 14992, 5461, 10, 5652,
               2173, 4, 7046, 18, 15, 2861, 105, 142)     # the Criteo Kaggle cardinalities, capped


@pytest.fixture(scope="module")
def criteo(tmp_path_factory):
    keras.utils.set_random_seed(3)
    dense = keras.Input(shape=(13,), name="numeric")
    sparse = [keras.Input(shape=(1,), dtype="int32", name=f"c{i}") for i in range(26)]
    bottom = keras.layers.Dense(16, activation="relu")(keras.layers.Dense(32, activation="relu")(dense))
    embedded = [keras.layers.Flatten()(keras.layers.Embedding(rows, 16)(ids)) for rows, ids in zip(CRITEO_ROWS, sparse)]
    x = keras.layers.Concatenate()([bottom] + embedded)
    x = keras.layers.Dense(64, activation="relu")(x)
    out = keras.layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model([dense] + sparse, out)
    path = tmp_path_factory.mktemp("criteo") / "model"
    model.export(str(path), verbose=False)
    return model, str(path)


def test_criteo_like_keras_model(criteo, tmp_path):
    model, path = criteo
    rng = np.random.default_rng(0)
    batch = 64
    feeds = {"numeric": rng.standard_normal((batch, 13)).astype(np.float32)}
    feeds |= {f"c{i}": rng.integers(-rows, rows, (batch, 1)).astype(np.int32) for i, rows in enumerate(CRITEO_ROWS)}
    want = model([feeds["numeric"]] + [feeds[f"c{i}"] for i in range(26)]).numpy()
    out = tmp_path / "criteo.daebin"
    Converter.from_saved_model(path, signature_keys=["serving_default"]).convert_to_file(out)
    assert offloaded_families(out) == ["GatherV2"] * 26
    got = Interpreter(model_path=out, mode="fast").get_signature_runner()(**feeds)["output_0"]
    assert_matches(got, want)


def test_dlrm_like_module_on_every_machine(tmp_path):
    config = dlrm.DlrmConfig(one_hot_rows=(500, 70), multi_hot_rows=(900, 40), fixed_rows=(300, 20), dim=8,
                             top=(16,), bottom=(16,))
    module = dlrm.build(config)
    tf.saved_model.save(module, str(tmp_path / "m"))
    args, feeds = dlrm.batch(config, 48, pooling=6)
    want = module(*args)["probability"].numpy()
    for machine in ("tmu", "cpu", "gpu"):
        out = tmp_path / f"{machine}.daebin"
        Converter.from_saved_model(tmp_path / "m", options=CompileOptions(target=machine)).convert_to_file(out)
        interpreter = Interpreter(model_path=out, machine=machine, mode="fast")
        assert_matches(interpreter.get_signature_runner()(**feeds)["probability"], want)
        assert sorted(offloaded_families(out)) == sorted(["SparseSegment"] * 2 + ["reduce over gather"] * 2
                                                         + ["ResourceGather"] * 2)
    # No speed claim here: these tables (32-byte rows) sit in the LLC, where the access unit's
    # per-row callback costs about what the cpu's own loads do; bench/baselines.py measures speed.


def test_convert_returns_the_bytes_convert_to_file_writes(criteo, tmp_path):
    converter = Converter.from_saved_model(criteo[1], signature_keys=["serve"], tags={"serve"})
    content = converter.convert()
    converter.convert_to_file(tmp_path / "m.daebin")
    assert (tmp_path / "m.daebin").read_bytes() == content
    assert [r["key"] for r in report(tmp_path / "m.daebin")] == ["serve"]


def test_all_signatures_by_default_share_one_subgraph(criteo):
    model = Interpreter(model_content=Converter.from_saved_model(criteo[1]).convert()).model
    assert sorted(s.key for s in model.signatureDefs) == ["serve", "serving_default"]
    assert len(model.subgraphs) == 1 and len(model.subgraphs[0].operators) == 26 + 2
    assert len(model.kernels) == 1      # 26 gathers of 16-wide float32 rows: one compiled kernel


def test_unknown_tags(criteo):
    with pytest.raises(SavedModelImportError, match="no meta graph with tags train"):
        Converter.from_saved_model(criteo[1], tags=["train"])


def _big_table_module(rows: int, dim: int):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(tf.random.stateless_uniform([rows, dim], seed=[1, 2]))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64)])
        def __call__(self, ids):
            return tf.nn.embedding_lookup(self.table, ids)

    return Module()


def _check_external_table(tmp_path, rows, dim, threshold):
    module = _big_table_module(rows, dim)
    tf.saved_model.save(module, str(tmp_path / "m"))
    out = tmp_path / "m.daebin"
    Converter.from_saved_model(tmp_path / "m", external_threshold=threshold).convert_to_file(out)
    interpreter = Interpreter(model_path=out, mode="fast")
    table = next(b for b in interpreter.model.buffers if b.offset)
    assert table.size == rows * dim * 4
    ids = np.array([0, rows - 1, rows // 2], np.int64)
    got = interpreter.get_signature_runner()(ids=ids)["output_0"]
    np.testing.assert_array_equal(got, module(ids).numpy())


def test_tables_past_the_threshold_are_stored_after_the_flatbuffer(tmp_path):
    _check_external_table(tmp_path, rows=3000, dim=8, threshold=1024)


@pytest.mark.slow
def test_table_over_2_gib(tmp_path):
    _check_external_table(tmp_path, rows=(2 << 30) // (64 * 4) + 1000, dim=64, threshold=16 << 20)


class _CapturesAConstant(tf.Module):
    def __init__(self):
        super().__init__()
        self.table = tf.Variable(np.arange(40, dtype=np.float32).reshape(10, 4))
        self.scale = tf.constant(np.array([1.0, -2.0, 0.5, 4.0], np.float32))   # an eager tensor closed over

    @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
    def serve(self, ids):
        return {"rows": tf.nn.embedding_lookup(self.table, ids) * self.scale}


@pytest.mark.parametrize("concrete", [False, True])
def test_captured_constants_become_constants(tmp_path, concrete):
    module = _CapturesAConstant()
    signature = module.serve.get_concrete_function() if concrete else module.serve
    tf.saved_model.save(module, str(tmp_path / "m"), signatures={"serving_default": signature})
    content = Converter.from_saved_model(tmp_path / "m").convert()
    ids = np.array([1, 2, 9, 1], np.int32)
    got = Interpreter(model_content=content).get_signature_runner()(ids=ids)
    assert_matches(got["rows"], module.serve(ids)["rows"].numpy(), exact=True)


class _Vocabulary(tf.Module):
    def __init__(self, initializer):
        super().__init__()
        self.table = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2))
        self.vocabulary = tf.lookup.StaticHashTable(initializer, 0)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, keys):
        return tf.nn.embedding_lookup(self.table, self.vocabulary.lookup(keys))


@pytest.mark.parametrize("concrete", [False, True])
def test_a_lookup_table_is_rebuilt_on_the_host(tmp_path, concrete):
    module = _Vocabulary(tf.lookup.KeyValueTensorInitializer(tf.constant(["a", "b", "c"]),
                                                             tf.constant([1, 2, 3], tf.int64)))
    signature = module.serve.get_concrete_function() if concrete else module.serve
    tf.saved_model.save(module, str(tmp_path / "m"), signatures={"serving_default": signature})
    runner = Interpreter(model_content=Converter.from_saved_model(tmp_path / "m").convert()).get_signature_runner()
    for keys in (np.array([b"c", b"zz", b"a"]), np.array(["b"])):   # the table is filled at every run
        want = module.serve(tf.constant(keys)).numpy()
        assert_matches(runner(keys=keys)["output_0"], want, exact=True)


def test_a_vocabulary_file_table_needs_no_file_at_run_time(tmp_path):
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("a\nb\nc\n")
    module = _Vocabulary(tf.lookup.TextFileInitializer(str(vocabulary), tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                       tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER))
    tf.saved_model.save(module, str(tmp_path / "m"), signatures=module.serve)
    content = Converter.from_saved_model(tmp_path / "m").convert()
    vocabulary.unlink()
    keys = np.array([b"c", b"zz", b"a", b"b"])
    want = module.serve(tf.constant(keys)).numpy()
    (tmp_path / "m" / "assets" / "vocabulary.txt").unlink()   # the .daebin carries the table's contents
    got = Interpreter(model_content=content).get_signature_runner()(keys=keys)["output_0"]
    assert_matches(got, want, exact=True)


def test_a_mutable_table_comes_from_the_checkpoint(tmp_path):
    class Module(tf.Module):
        def __init__(self):
            super().__init__()
            self.table = tf.Variable(np.arange(40, dtype=np.float32).reshape(10, 4))
            self.vocabulary = tf.lookup.experimental.MutableHashTable(tf.string, tf.int64, 0)
            self.vocabulary.insert(tf.constant(["a", "b"]), tf.constant([3, 7], tf.int64))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def serve(self, keys):
            return tf.nn.embedding_lookup(self.table, self.vocabulary.lookup(keys))

    module = Module()
    tf.saved_model.save(module, str(tmp_path / "m"), signatures=module.serve)
    keys = np.array([b"b", b"zz", b"a"])
    got = Interpreter(model_content=Converter.from_saved_model(tmp_path / "m").convert()).get_signature_runner()(
        keys=keys)["output_0"]
    assert_matches(got, module.serve(tf.constant(keys)).numpy(), exact=True)
