"""Every import problem is one SavedModelImportError line naming the path."""

from __future__ import annotations

import shutil

import pytest

from ember_tf.errors import EmberError, SavedModelImportError
from ember_tf.grappler_like import read_saved_model


def _one_line_naming(exc_info, path):
    msg = str(exc_info.value)
    assert "\n" not in msg
    assert "Traceback" not in msg
    assert str(path) in msg
    assert isinstance(exc_info.value, EmberError)


def test_missing_directory(tmp_path):
    path = tmp_path / "nope"
    with pytest.raises(SavedModelImportError) as e:
        read_saved_model(str(path))
    _one_line_naming(e, path)


def test_directory_without_saved_model_pb(tmp_path):
    with pytest.raises(SavedModelImportError) as e:
        read_saved_model(str(tmp_path))
    _one_line_naming(e, tmp_path)
    assert "saved_model.pb" in str(e.value)


@pytest.mark.parametrize("cut", ["truncated", "garbage"])
def test_corrupt_saved_model_pb(dense_model, tmp_path, cut):
    path = tmp_path / "m"
    shutil.copytree(dense_model.path, path)
    pb = path / "saved_model.pb"
    data = pb.read_bytes()
    pb.write_bytes(data[: len(data) // 2] if cut == "truncated" else b"\xff\xfe not a proto")
    with pytest.raises(SavedModelImportError) as e:
        read_saved_model(str(path))
    _one_line_naming(e, pb)


def test_no_meta_graph_with_tags(dense_model):
    with pytest.raises(SavedModelImportError) as e:
        read_saved_model(dense_model.path, tags=("train",))
    _one_line_naming(e, dense_model.path)
    assert "train" in str(e.value)


def test_unknown_signature_key(dense_model):
    g = read_saved_model(dense_model.path)
    with pytest.raises(SavedModelImportError) as e:
        g.signature("predict")
    _one_line_naming(e, dense_model.path)
    assert "serving_default" in str(e.value)


def test_missing_checkpoint_on_read(dense_model, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(dense_model.path, path)
    shutil.rmtree(path / "variables")
    (path / "fingerprint.pb").unlink()
    g = read_saved_model(str(path))  # the graph alone still imports
    assert g.fingerprint is None
    with pytest.raises(SavedModelImportError) as e:
        g.read_variable(g.variable("table"))
    _one_line_naming(e, path)


def test_corrupt_checkpoint_on_read(dense_model, tmp_path):
    path = tmp_path / "m"
    shutil.copytree(dense_model.path, path)
    (path / "variables" / "variables.index").write_bytes(b"garbage")
    g = read_saved_model(str(path))
    with pytest.raises(SavedModelImportError) as e:
        g.read_variable("table")
    _one_line_naming(e, path)


def test_unknown_variable_and_function(dense_model):
    g = read_saved_model(dense_model.path)
    with pytest.raises(SavedModelImportError) as e:
        g.variable("nope")
    _one_line_naming(e, dense_model.path)
    with pytest.raises(SavedModelImportError) as e:
        g.resource_inputs("__inference_nope_1")
    _one_line_naming(e, dense_model.path)
