"""SPEC.toml: what a spec says, its defaults, and a one-line error naming the file and the
key for each way it can be wrong."""

from __future__ import annotations

import pathlib
import re

import pytest

from ember_tf.errors import EmberError, SweepError
from ember_tf.machines import MACHINES_DIR
from ember_tf.sweep import load_spec
from tests.sweep.models import write_sweep


def test_the_test_sweep(tmp_path):
    spec = load_spec(write_sweep(tmp_path))
    assert [m.label for m in spec.machines] == ["tmu", "cpu"]
    assert [(o.label, o.parameters) for o in spec.overrides] == [
        ("base", ()), ("half", (("cores", 4), ("dram_bandwidth_gbps", 102.4)))]
    bag, lookup = spec.models
    assert bag.path_for(16) == str(tmp_path / "bag_b16.hlo") and bag.id_range == 1000 and bag.inputs is None
    assert lookup.inputs_for(8) == str(tmp_path / "lookup_in_b8.npz")
    assert spec.batches == (8, 16)
    assert spec.core_mappings == ("auto", "even") and spec.lookup_strategies == ("gm", "l1")
    assert (spec.sample_inputs, spec.opt_level, spec.mode, spec.seed) == (True, 3, "fast", 0)
    assert issubclass(SweepError, EmberError)


def test_defaults(tmp_path):
    (tmp_path / "m.hlo").write_text("")
    spec_path = tmp_path / "s.toml"
    spec_path.write_text('machines = "tmu"\nbatches = [4]\n[[models]]\nname = "m"\npath = "m.hlo"\n'
                         '[[overrides]]\ncost_vector = 2\nhas_access_unit = false\n')
    spec = load_spec(spec_path)
    assert [m.label for m in spec.machines] == ["tmu"]
    assert spec.core_mappings == ("auto",) and spec.lookup_strategies == ("auto",)
    (override,) = spec.overrides
    assert override.label == "cost_vector=2.0, has_access_unit=False"
    assert override.parameters == (("cost_vector", 2.0), ("has_access_unit", False))


def test_a_machine_file_by_path(tmp_path):
    (tmp_path / "mine.toml").write_text((MACHINES_DIR / "tmu.toml").read_text().replace("cores = 8", "cores = 2"))
    spec_path = tmp_path / "s.toml"
    spec_path.write_text('machines = ["mine.toml"]\nbatches = [4]\n[[models]]\nname = "m"\npath = "m.hlo"\n')
    (machine,) = load_spec(spec_path).machines
    assert machine.label == "mine.toml" and machine.source == str(tmp_path / "mine.toml")


BASE = 'machines = ["tmu"]\nbatches = [4]\n[[models]]\nname = "m"\npath = "m.hlo"\n'


@pytest.mark.parametrize("text, key, problem", [
    ("machines = [", "", "Invalid value (at end of document)"),
    ("batch = [4]\n" + BASE, "batch", "unknown key"),
    (BASE.replace('["tmu"]', '["tpu"]'), "machines[0]", "unknown machine 'tpu'"),
    (BASE.replace('["tmu"]', "[]"), "machines", "non-empty array"),
    (BASE.replace("[4]", "[4, 0]"), "batches[1]", "positive integer"),
    (BASE.replace("[4]", "[4, 4]"), "batches", "4 appears twice"),
    (BASE + "[[overrides]]\ncorez = 4\n", "overrides[0].corez", "unknown machine parameter"),
    (BASE + "[[overrides]]\nname = 'x'\n", "overrides[0].name", "unknown machine parameter"),
    (BASE + "[[overrides]]\ncores = 4.5\n", "overrides[0].cores", "must be an integer"),
    (BASE + "[[overrides]]\ndram_latency_ns = 'fast'\n", "overrides[0].dram_latency_ns", "must be a number"),
    (BASE + "[[overrides]]\ncores = 0\n", "overrides[0]", "on machine 'tmu': machine 'tmu': cores must be positive"),
    (BASE + "[[overrides]]\ncores = 2\n[[overrides]]\ncores = 2\n", "overrides", "label 'cores=2' appears twice"),
    ("overrides = 3\n" + BASE, "overrides", "array of tables"),
    (BASE.replace('name = "m"\n', ""), "models[0].name", "missing"),
    (BASE.replace('path = "m.hlo"', 'path = "m_{size}.hlo"'), "models[0].path", "{size}"),
    (BASE + 'id_range = {p1 = -1}\n', "models[0].id_range.p1", "positive integer"),
    (BASE + 'pooling = 0\n', "models[0].pooling", "at least 1"),
    (BASE + 'color = "red"\n', "models[0].color", "unknown key"),
    (BASE + '[[models]]\nname = "m"\npath = "n.hlo"\n', "models", "name 'm' appears twice"),
    (BASE + '[planner]\ncore_mapping = ["fancy"]\n', "planner.core_mapping[0]", "'fancy' is not one of auto, even"),
    (BASE + '[planner]\nlookup_strategy = ["l2"]\n', "planner.lookup_strategy[0]", "not one of auto, gm"),
    (BASE + '[planner]\nsample_inputs = "yes"\n', "planner.sample_inputs", "true or false"),
    (BASE + '[run]\nmode = "quick"\n', "run.mode", "not one of fast, golden"),
    (BASE + '[run]\nopt_level = 4\n', "run.opt_level", "0 to 3"),
    ('planner = 1\n' + BASE, "planner", "must be a table"),
])
def test_errors_name_the_file_and_the_key(tmp_path, text, key, problem):
    spec_path = tmp_path / "bad.toml"
    spec_path.write_text(text)
    with pytest.raises(SweepError) as error:
        load_spec(spec_path)
    message = str(error.value)
    assert message.startswith(f"{spec_path}: {key}:" if key else f"{spec_path}: "), message
    assert problem in message and "\n" not in message


def test_an_unreadable_spec(tmp_path):
    with pytest.raises(SweepError, match="absent.toml: cannot read"):
        load_spec(tmp_path / "absent.toml")
    (tmp_path / "latin1.toml").write_bytes(b"machines = ['\xe9']")
    with pytest.raises(SweepError, match="latin1.toml: not UTF-8"):
        load_spec(tmp_path / "latin1.toml")


def test_the_spec_in_the_docs(tmp_path):
    """docs/SWEEP.md's example spec is one load_spec reads."""
    doc = (pathlib.Path(__file__).resolve().parents[2] / "docs" / "SWEEP.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"^```toml\n(.*?)^```", doc, re.M | re.S)
    (tmp_path / "sweep.toml").write_text(block)
    spec = load_spec(tmp_path / "sweep.toml")
    assert [o.label for o in spec.overrides] == ["base", "half bandwidth"]
    assert [m.name for m in spec.models] == ["bag", "dlrm"]
    assert dict(spec.models[1].id_range)["id_lists_1"] == 100000 and spec.models[1].pooling == 20
    assert len(spec.machines) * len(spec.overrides) * len(spec.models) * len(spec.batches) * len(
        spec.core_mappings) * len(spec.lookup_strategies) == 64
