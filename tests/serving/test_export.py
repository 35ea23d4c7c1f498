"""export(): versioned serving layout, the program attached, warmup requests written
and checked; a failure anywhere leaves no version and no temporary directory."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.dae_isa import writer
from ember_tf.errors import EmberError
from ember_tf.serving import WARMUP_FILE, attached_path, export, load_attached, read_warmup_requests
from tests.serving.conftest import Recommender, recommender_feeds

tf = pytest.importorskip("tensorflow")


def test_versions_count_up_and_load(recommender, tmp_path):
    base = tmp_path / "models" / "recommender"
    first = export(recommender, base)
    second = export(Recommender(seed=1), base)
    assert [first.name, second.name] == ["1", "2"]
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]          # no temporary directory left
    for version, module in ((first, recommender), (second, None)):
        assert attached_path(version).is_file()
        served = tf.saved_model.load(str(version)).signatures["serving_default"]
        feeds = recommender_feeds(3)
        got = load_attached(version, mode="fast").get_signature_runner()(**feeds)["score"]
        want = served(user=feeds["user"], history=feeds["history.indices"], history_1=feeds["history.values"],
                      history_2=feeds["history.dense_shape"])["score"].numpy()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_warmup_requests_are_written_and_checked(recommender, tmp_path):
    inputs = [recommender_feeds(seed) for seed in range(3)]
    version = export(recommender, tmp_path / "m", warmup_inputs=inputs)
    requests = read_warmup_requests(version / "assets.extra" / WARMUP_FILE)
    assert len(requests) == 3
    assert set(requests[0].inputs) == {"user", "history", "history_1", "history_2"}   # SignatureDef keys
    assert requests[0].model_name == "m" and requests[0].signature_key == "serving_default"


def test_keras_model_exports_with_both_signatures(keras_ranker, tmp_path):
    ids = np.array([[1, 2], [29, 0]], np.int32)
    version = export(keras_ranker, tmp_path / "ranker", warmup_inputs=[{"ids": ids}])
    runner = load_attached(version, mode="fast").get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(ids=ids)["output_0"], keras_ranker(ids).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("where", ["writing the program", "writing warmup requests", "checking warmup"])
def test_failure_leaves_no_version(recommender, tmp_path, monkeypatch, where):
    base = tmp_path / "models"
    export(recommender, base)                                   # version 1 exists and stays
    if where == "writing the program":
        real = writer._chunks

        def broken(head, tail):
            yield next(real(head, tail))
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(writer, "_chunks", broken)
    elif where == "writing warmup requests":
        import ember_tf.serving.publish as module

        monkeypatch.setattr(module, "write_warmup_requests", lambda *a: (_ for _ in ()).throw(OSError("disk")))
    else:
        import ember_tf.serving.publish as module

        monkeypatch.setattr(module, "replay", lambda interpreter, requests: (_ for _ in ()).throw(
            EmberError("differs")))
    with pytest.raises((OSError, EmberError)):
        export(recommender, base, warmup_inputs=[recommender_feeds(0)])
    assert sorted(p.name for p in base.iterdir()) == ["1"]
