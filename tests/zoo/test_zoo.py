"""The model zoo: every embedding family x every save style (and TF Recommenders models),
built with TensorFlow in the test, converted, written, read back, emulated on tmu and
cpu, and compared with what TensorFlow computed on the same inputs."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from ember_tf import cli
from ember_tf.compiler import CompileOptions
from ember_tf.converter import Converter
from tests.conversion import offloaded_families, run
from tests.zoo import models
from tests.zoo.families import FAMILIES
from tests.zoo.styles import STYLES

ROOT = pathlib.Path(__file__).resolve().parents[2]
CELLS = [(style.name, family.name, family.report_families) for style in STYLES for family in FAMILIES]
CELLS += [(style, model.name, model.report_families) for style, model, _ in models.MODELS]


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> pathlib.Path:
    """Builds every cell: Keras 2 in its own process (TF_USE_LEGACY_KERAS=1), the rest in another."""
    out = tmp_path_factory.mktemp("zoo")
    env = os.environ | {"TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    builds = [subprocess.Popen([sys.executable, "-m", "tests.zoo.build", str(out), flavor], cwd=ROOT,
                               env=env | extra, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
              for flavor, extra in (("tf", {}), ("tf_keras", {"TF_USE_LEGACY_KERAS": "1"}))]
    for build in builds:
        output = build.communicate()[0].decode(errors="replace")
        assert build.returncode == 0, output[-4000:]
    return out


def _cell(zoo: pathlib.Path, style: str, family: str) -> pathlib.Path:
    cell = zoo / style / family
    if (cell / "not_applicable.txt").exists():
        pytest.skip(f"{style} cannot express {family}: {(cell / 'not_applicable.txt').read_text()}")
    assert not (cell / "error.txt").exists(), (cell / "error.txt").read_text()
    return cell


@pytest.mark.parametrize("target", ["tmu", "cpu"])
@pytest.mark.parametrize("style,family,report_families", CELLS, ids=[f"{s}-{f}" for s, f, _ in CELLS])
def test_cell(zoo, tmp_path, style, family, report_families, target):
    cell = _cell(zoo, style, family)
    out = tmp_path / "model.daebin"
    Converter.from_saved_model(cell / "model", options=CompileOptions(target=target)).convert_to_file(out)
    keys = sorted(p.name[:-len(".feeds.npz")] for p in cell.glob("*.feeds.npz"))
    assert keys
    for key in keys:
        for wanted in report_families:
            assert set(wanted.split("|")) & set(offloaded_families(out, key)), (key, offloaded_families(out, key))
        got = run(out, dict(np.load(cell / f"{key}.feeds.npz")), key=key, machine=target)
        want = dict(np.load(cell / f"{key}.npz"))
        assert set(got) == set(want), (key, sorted(got), sorted(want))
        for name, value in want.items():
            assert got[name].dtype == value.dtype and got[name].shape == value.shape, (name, got[name], value)
            np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-6, err_msg=f"{key}: {name}")


def _cli(capsys, *argv) -> tuple[int, str]:
    """`ember-tf ARGV` in this process (the console script's own entry): exit status and
    stderr. Anything but an EmberError escapes `main` and fails the test with its traceback."""
    try:
        cli.main(cli._parse(["ember-tf", *map(str, argv)]))
        status = 0
    except SystemExit as e:
        status = e.code
    return status, capsys.readouterr().err


def _bad_requests(feeds: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    first = sorted(feeds)[0]
    ints = [k for k, v in feeds.items() if v.dtype.kind == "i" and v.size]
    strings = [k for k, v in feeds.items() if v.dtype.kind == "S"]
    cases = {
        "missing input": {k: v for k, v in feeds.items() if k != first},
        "wrong rank": feeds | {first: feeds[first].reshape(1, *feeds[first].shape)},
    }
    if ints:
        cases["ids out of range"] = feeds | {k: feeds[k] + 1_000_000 for k in ints}
        cases["wrong dtype"] = feeds | {k: feeds[k].astype(np.float64) for k in ints}
    if strings:
        cases["numbers for strings"] = feeds | {k: np.arange(len(feeds[k]), dtype=np.float32) for k in strings}
    return cases


@pytest.mark.parametrize("style,family,report_families", CELLS, ids=[f"{s}-{f}" for s, f, _ in CELLS])
def test_cli_never_prints_a_traceback(zoo, tmp_path, capsys, style, family, report_families):
    cell = _cell(zoo, style, family)
    out = tmp_path / "model.daebin"
    assert _cli(capsys, "convert", cell / "model", out) == (0, "")
    assert _cli(capsys, "inspect", out)[0] == 0
    key = sorted(p.name[:-len(".feeds.npz")] for p in cell.glob("*.feeds.npz"))[0]
    feeds = dict(np.load(cell / f"{key}.feeds.npz"))
    result = tmp_path / "out.npz"
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    for name, bad in _bad_requests(feeds).items():
        np.savez(tmp_path / "bad.npz", **bad)
        status, err = _cli(capsys, "run", out, f"--inputs={tmp_path / 'bad.npz'}", f"--outputs={result}",
                           f"--signature_key={key}")
        if name == "wrong dtype" or name == "wrong rank":   # some models accept these, as TensorFlow would
            if status == 0:
                continue
        assert status == 2 and err.startswith("ember-tf: error:") and err.count("\n") == 1, (name, status, err)
        assert not result.exists(), name
    for argv in ([f"--inputs={garbage}"], [f"--inputs={tmp_path / 'absent.npz'}"],
                 [f"--inputs={cell / f'{key}.feeds.npz'}", "--signature_key=no_such_signature"]):
        status, err = _cli(capsys, "run", out, *argv, f"--outputs={result}")
        assert status == 2 and err.startswith("ember-tf: error:") and err.count("\n") == 1, (argv, status, err)
        assert not result.exists()
