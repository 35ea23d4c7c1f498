"""The cross product and its content hashes: one key per point, the same key for the same
contents wherever they are, a new key when a file a point reads changes; the effective
machine written as TOML reads back equal."""

from __future__ import annotations

import dataclasses
import shutil

import pytest

from ember_tf.errors import SweepError
from ember_tf.machines import load_machine
from ember_tf.sweep import expand, load_spec
from ember_tf.sweep import points as points_module
from ember_tf.sweep.points import PARAMETERS, machine_toml
from tests.sweep.models import POINTS, write_sweep


def test_the_cross_product_in_order(tmp_path):
    points = expand(load_spec(write_sweep(tmp_path)))
    assert len(points) == POINTS and len({p.key for p in points}) == POINTS
    first, last = points[0], points[-1]
    assert [getattr(first, c) for c in PARAMETERS] == ["tmu", "base", "bag", 8, "auto", "gm"]
    assert [getattr(last, c) for c in PARAMETERS] == ["cpu", "half", "lookup", 16, "even", "l1"]
    assert points[1].lookup_strategy == "l1" and points[2].core_mapping == "even"   # the innermost axes
    assert first.machine_parameters == (("cores", 8), ("dram_bandwidth_gbps", 204.8))
    assert last.machine_parameters == (("cores", 4), ("dram_bandwidth_gbps", 102.4))
    assert first.model_path == str(tmp_path / "bag_b8.hlo") and last.inputs == str(tmp_path / "lookup_in_b16.npz")
    assert first.columns() == {"machine": "tmu", "override": "base", "model": "bag", "batch": 8,
                               "core_mapping": "auto", "lookup_strategy": "gm", "cores": 8,
                               "dram_bandwidth_gbps": 204.8, "key": first.key}


def test_keys_follow_contents_not_places(tmp_path):
    (tmp_path / "a").mkdir()
    spec = write_sweep(tmp_path / "a")
    keys = [p.key for p in expand(load_spec(spec))]
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    assert [p.key for p in expand(load_spec(tmp_path / "b" / "sweep.toml"))] == keys   # moved: the same keys

    (tmp_path / "b" / "bag_b8.hlo").write_text((tmp_path / "b" / "bag_b8.hlo").read_text() + "\n")
    changed = [p.key != k for p, k in zip(expand(load_spec(tmp_path / "b" / "sweep.toml")), keys)]
    assert sum(changed) == 16    # every point of the bag at batch 8 (2 machines x 2 overrides x 4 plans)

    spec = tmp_path / "b" / "sweep.toml"
    spec.write_text(spec.read_text().replace("dram_bandwidth_gbps = 102.4", "dram_bandwidth_gbps = 51.2"))
    changed = [p.key != k for p, k in zip(expand(load_spec(spec)), keys)]
    assert sum(changed) == 16 + 32 - 8   # and every point of the "half" override (8 of them counted above)


def test_keys_follow_ember_tf_itself(tmp_path, monkeypatch):
    spec = load_spec(write_sweep(tmp_path))
    keys = {p.key for p in expand(spec)}
    monkeypatch.setattr(points_module._Digests, "source", lambda self: "an edited emulator")
    assert not keys & {p.key for p in expand(spec)}


def test_a_missing_model_file_is_an_error_of_the_spec(tmp_path):
    spec = write_sweep(tmp_path)
    (tmp_path / "lookup_b16.hlo").unlink()
    with pytest.raises(SweepError, match=r"sweep.toml: models\[1\].path: .*lookup_b16.hlo does not exist"):
        expand(load_spec(spec))


@pytest.mark.parametrize("name", ["tmu", "cpu", "gpu"])
def test_the_machine_as_toml_reads_back_equal(tmp_path, name):
    machine = load_machine(name).with_overrides(cores=3, dram_latency_ns=77.5, cost_vector=2.5)
    path = tmp_path / "m.toml"
    path.write_text(machine_toml(machine))
    assert load_machine(str(path)) == machine
    assert dataclasses.asdict(load_machine(str(path))) == dataclasses.asdict(machine)
