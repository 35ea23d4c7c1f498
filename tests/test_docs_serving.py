"""docs/SERVING.md's worked example runs as written: the Python block exports a
Keras model, the shell block replays its warmup requests; the outputs match Keras."""

from __future__ import annotations

import pathlib
import re
import shlex

import numpy as np
import pytest

from tests.test_cli import ember_tf

DOC = pathlib.Path(__file__).resolve().parents[1] / "docs" / "SERVING.md"

pytest.importorskip("keras")


def _block(language: str) -> str:
    (block,) = re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    return block


def test_worked_example(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_block("python"), str(DOC), "exec"), namespace)
    assert "exported serving_models/ranker/1" in capsys.readouterr().out
    command = shlex.split(_block("sh").replace("\\\n", " "))
    assert command[0] == "ember-tf"
    result = ember_tf(*command[1:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "4 warmup request(s)" in result.stdout
    with np.load(tmp_path / "warmup_outputs.npz") as got:
        for i, example in enumerate(namespace["examples"]):
            want = namespace["ranker"](example["ids"]).numpy()
            np.testing.assert_allclose(got[f"{i}/output_0"], want, rtol=1e-5, atol=1e-6)
