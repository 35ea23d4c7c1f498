"""`ember-tf profile` and `convert --profile --hot_bytes` end to end (docs/HOT_ROWS.md): a
TensorFlow model is saved and converted; its access profile counts exactly the rows the
batches read (from .npz files or TF Serving warmup requests); the model converted with hot
rows reads fewer row bytes from DRAM and computes what TensorFlow computes; a profile of
another model, or with rows out of range, is one line and exit status 2."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.emulator import Interpreter
from ember_tf.planner.hot_rows import load_profile
from tests.test_cli import ember_tf

BIG, SMALL, DIM, BATCH = 6000, 40, 32, 128


def _module(seed: int):
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    class Tables(tf.Module):
        def __init__(self):
            super().__init__()
            self.big = tf.Variable(rng.standard_normal((BIG, DIM)).astype(np.float32), name="big")
            self.small = tf.Variable(rng.standard_normal((SMALL, DIM)).astype(np.float32), name="small")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32, name="big_ids"),
                                      tf.TensorSpec([None], tf.int32, name="small_ids")])
        def serve(self, big_ids, small_ids):
            return {"big": tf.gather(self.big, big_ids), "small": tf.gather(self.small, small_ids)}

    return Tables()


def _batch(seed: int) -> dict[str, np.ndarray]:
    """Mostly 30 popular rows of the big table (the same in every batch)."""
    rng = np.random.default_rng(seed)
    popular = np.random.default_rng(99).choice(BIG, 30, replace=False)
    big = np.where(rng.random(BATCH) < 0.85, popular[rng.integers(0, 30, BATCH)], rng.integers(0, BIG, BATCH))
    return {"big_ids": big.astype(np.int32), "small_ids": rng.integers(0, SMALL, BATCH).astype(np.int32)}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    import tensorflow as tf

    folder = tmp_path_factory.mktemp("profiling")
    out = {}
    for name, seed in (("model", 0), ("other", 1)):
        module = _module(seed)
        tf.saved_model.save(module, str(folder / name), signatures=module.serve)
        result = ember_tf("convert", folder / name, folder / f"{name}.daebin")
        assert result.returncode == 0, result.stderr
        out[name] = module
    trace = folder / "trace"
    trace.mkdir()
    for i in range(6):
        np.savez(trace / f"batch{i}.npz", **_batch(i))
    return folder, out


def _profile(folder, *args):
    return ember_tf("profile", folder / "model.daebin", f"--out={folder / 'profile.npz'}", *args)


def test_the_profile_counts_every_row_read_and_says_how_skewed_the_tables_are(models):
    folder, _ = models
    result = _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=1", f"--plot={folder / 'p.png'}")
    assert result.returncode == 0, result.stderr
    assert "top 0.1%" in result.stdout and "big" in result.stdout and "profiled 6 of 6" in result.stdout
    assert (folder / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    profile = load_profile(folder / "profile.npz")
    batches = [dict(np.load(f)) for f in sorted((folder / "trace").glob("*.npz"))]
    for key, rows in (("big_ids", BIG), ("small_ids", SMALL)):
        table = next(t for t in profile.tables if t.rows == rows)
        want = np.bincount(np.concatenate([b[key] for b in batches]), minlength=rows)
        np.testing.assert_array_equal(table.ids, np.flatnonzero(want))
        np.testing.assert_array_equal(table.counts, want[want > 0])
    big = next(t for t in profile.tables if t.rows == BIG)
    assert big.top_share(0.01) > 0.8


def test_sampling_takes_a_fixed_fraction_of_the_batches(models):
    folder, _ = models
    first = _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=0.5")
    again = _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=0.5")
    assert first.returncode == 0, first.stderr
    assert first.stdout == again.stdout and "of 6 batch(es)" in first.stdout
    assert "profiled 6 of 6" not in first.stdout


def test_warmup_requests_give_the_same_profile_as_their_npz(models):
    from ember_tf.serving.warmup import WarmupRequest, write_warmup_requests

    folder, _ = models
    warmup = folder / "tf_serving_warmup_requests"
    write_warmup_requests(warmup, [WarmupRequest("m", "serving_default", _batch(i)) for i in range(6)])
    assert _profile(folder, f"--warmup_requests={warmup}", "--sample_rate=1").returncode == 0
    from_requests = load_profile(folder / "profile.npz")
    assert _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=1").returncode == 0
    from_npz = load_profile(folder / "profile.npz")
    for a, b in zip(from_requests.tables, from_npz.tables):
        np.testing.assert_array_equal(a.counts, b.counts)


def test_hot_rows_keep_outputs_and_cut_the_row_bytes_read_from_dram(models):
    import tensorflow as tf

    folder, modules = models
    assert _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=1").returncode == 0
    hot = folder / "hot.daebin"
    result = ember_tf("convert", folder / "model", hot, f"--profile={folder / 'profile.npz'}", "--hot_bytes=8192")
    assert result.returncode == 0, result.stderr
    assert "hot rows" in result.stdout
    inspect = ember_tf("inspect", hot)
    assert "hot rows" in inspect.stdout and "place=hot" in ember_tf("inspect", "--disasm", hot).stdout
    feeds = _batch(100)
    want = {k: v.numpy() for k, v in modules["model"].serve(**{k: tf.constant(v) for k, v in feeds.items()}).items()}
    row_bytes = {}
    for name in ("model.daebin", "hot.daebin"):
        interpreter = Interpreter(model_path=folder / name)
        got = interpreter.get_signature_runner()(**feeds)
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
        row_bytes[name] = sum(c.access_unit_dram_read_bytes for k in interpreter.last_stats.kernels for c in k.cores)
    assert row_bytes["hot.daebin"] < 0.7 * row_bytes["model.daebin"]
    assert "big" in _tensor_names(folder / "model.daebin")
    assert "big" not in _tensor_names(hot) and "big/hot_remap" in _tensor_names(hot)     # never stored twice


def _one_line_error(result, *fragments):
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_a_profile_of_another_model_is_refused(models):
    folder, _ = models
    other = folder / "other_profile.npz"
    result = ember_tf("profile", folder / "other.daebin", f"--inputs={folder / 'trace'}", "--sample_rate=1",
                      f"--out={other}")
    assert result.returncode == 0, result.stderr
    out = folder / "refused.daebin"
    _one_line_error(ember_tf("convert", folder / "model", out, f"--profile={other}", "--hot_bytes=8192"),
                    str(other), "differs from the one profiled")
    assert not out.exists()


def test_a_profile_with_rows_out_of_range_is_refused(models):
    folder, _ = models
    assert _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=1").returncode == 0
    arrays = dict(np.load(folder / "profile.npz"))
    big = next(k.split("/")[0] for k in arrays if k.endswith("/rows") and int(arrays[k]) == BIG)
    arrays[f"{big}/ids"] = arrays[f"{big}/ids"] + BIG
    bad = folder / "bad_profile.npz"
    np.savez(bad, **arrays)
    _one_line_error(ember_tf("convert", folder / "model", folder / "x.daebin", f"--profile={bad}", "--hot_bytes=8192"),
                    str(bad), "rows out of range")


@pytest.mark.parametrize("args, fragment", [
    (["--hot_bytes=100"], "--hot_bytes needs --profile"),
    (["--profile=PROFILE"], "--profile needs --hot_bytes"),
    (["--profile=NOT_A_PROFILE", "--hot_bytes=100"], "not an access profile"),
    (["--profile=PROFILE", "--hot_bytes=1000000000"], "pinned_llc_bytes"),
])
def test_bad_hot_row_options_are_one_line(models, args, fragment):
    folder, _ = models
    assert _profile(folder, f"--inputs={folder / 'trace'}", "--sample_rate=1").returncode == 0
    (folder / "junk.npz").write_bytes(b"not a zip")
    args = [a.replace("NOT_A_PROFILE", str(folder / "junk.npz")).replace("PROFILE", str(folder / "profile.npz"))
            for a in args]
    _one_line_error(ember_tf("convert", folder / "model", folder / "y.daebin", *args), fragment)


def test_profiling_needs_exactly_one_source_of_batches(models):
    folder, _ = models
    _one_line_error(_profile(folder), "exactly one of --inputs and --warmup_requests")
    _one_line_error(_profile(folder, f"--inputs={folder / 'nothing_here'}"), "nothing_here")


def test_an_hlo_module_takes_hot_rows_for_its_bound_tables(tmp_path):
    from tests.emulator.test_row_cache import HLO, ROWS, _ids

    (tmp_path / "bag.hlo").write_text(HLO)
    table = np.random.default_rng(0).standard_normal((ROWS, 64)).astype(np.float32)
    np.savez(tmp_path / "params.npz", p0=table)
    plain, hot = tmp_path / "plain.daebin", tmp_path / "hot.daebin"
    common = [f"--hlo_params={tmp_path / 'params.npz'}", "--core_mapping=even", "--lookup_strategy=gm"]
    assert ember_tf("convert", tmp_path / "bag.hlo", plain, *common).returncode == 0
    trace = tmp_path / "trace"
    trace.mkdir()
    for seed in range(4):
        np.savez(trace / f"b{seed}.npz", p1=_ids(seed))
    result = ember_tf("profile", plain, f"--inputs={trace}", "--sample_rate=1", f"--out={tmp_path / 'p.npz'}")
    assert result.returncode == 0, result.stderr
    assert "p0" in result.stdout
    result = ember_tf("convert", tmp_path / "bag.hlo", hot, *common, f"--profile={tmp_path / 'p.npz'}",
                      "--hot_bytes=65536")
    assert result.returncode == 0, result.stderr
    assert "hot rows" in result.stdout
    feeds = {"p1": _ids(50)}
    want = table[feeds["p1"]].sum(axis=1)
    read = {}
    for path in (plain, hot):
        interpreter = Interpreter(model_path=path)
        (got,) = interpreter.get_signature_runner()(**feeds).values()
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        read[path.name] = sum(c.dram_read_bytes for k in interpreter.last_stats.kernels for c in k.cores)
    assert read["hot.daebin"] < 0.7 * read["plain.daebin"]
    assert "p0" not in _tensor_names(hot)          # the extended table replaces it: never stored twice


def _tensor_names(path) -> set[str]:
    from ember_tf.dae_isa import read_model

    return {t.name.decode() if isinstance(t.name, bytes) else t.name for t in read_model(path).tensors}
