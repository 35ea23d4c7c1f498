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
