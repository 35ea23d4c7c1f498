"""The driver in this process (`ray=None`): every point once, each cached as it completes,
a rerun skipping all of them; a bug's record is not cached (the next run tries again), and a
damaged cache entry counts as absent. On Ray: a point whose worker dies past its retries
records why (the acceptance runs, a worker killed and retried, are in test_cli.py)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest

from ember_tf.sweep import RayOptions, expand, load_spec, run_sweep
from ember_tf.sweep import run as run_module
from ember_tf.sweep.engine import Progress
from tests.sweep.models import write_sweep


@pytest.fixture(scope="module")
def points(tmp_path_factory):
    spec = load_spec(write_sweep(tmp_path_factory.mktemp("sweep")))
    return expand(spec)[:8]     # tmu, base, bag and lookup at batch 8: enough for the driver


class _Seen(Progress):
    def __init__(self):
        self.started, self.records = None, []

    def start(self, points, cached, where):
        self.started = (points, cached, where)

    def record(self, point, record):
        self.records.append(point.key)


def test_a_rerun_skips_every_point(tmp_path, points):
    seen = _Seen()
    first = run_sweep(points, tmp_path / "cache", None, seen)
    assert (first.cached, first.ran, first.failed) == (0, 8, 0)
    assert seen.started == (8, 0, "in this process") and seen.records == [p.key for p in points]
    assert sorted(f.stem for f in (tmp_path / "cache").iterdir()) == sorted(p.key for p in points)
    assert json.loads((tmp_path / "cache" / f"{points[0].key}.json").read_text()) == first.records[0]

    seen = _Seen()
    again = run_sweep(points, tmp_path / "cache", None, seen)
    assert (again.cached, again.ran) == (8, 0) and again.records == first.records and seen.records == []


def test_a_bug_is_not_cached_and_a_damaged_entry_is_run_again(tmp_path, points, monkeypatch):
    real = run_module._convert_and_run

    def flaky(point):
        if point.key == points[3].key:
            raise RuntimeError("a bug")
        return real(point)

    monkeypatch.setattr(run_module, "_convert_and_run", flaky)
    first = run_sweep(points, tmp_path, None)
    assert first.failed == 1 and first.records[3]["error"] == "internal error: RuntimeError: a bug"
    assert not (tmp_path / f"{points[3].key}.json").exists()

    monkeypatch.setattr(run_module, "_convert_and_run", real)
    (tmp_path / f"{points[5].key}.json").write_text('{"machine": ')     # as if a disk filled up mid-write
    again = run_sweep(points, tmp_path, None)
    assert (again.cached, again.ran, again.failed) == (6, 2, 0)
    assert again.records[3]["error"] is None and again.records[5] == first.records[5] | {
        "wall_seconds": again.records[5]["wall_seconds"], "convert_seconds": again.records[5]["convert_seconds"],
        "run_seconds": again.records[5]["run_seconds"]}


def test_a_point_whose_worker_dies_past_its_retries(tmp_path, points):
    """With no retries left, a killed worker's point records `ray: ...` (not cached: the next
    run tries it again) and the other points go on."""
    pytest.importorskip("ray")
    from tests.sweep.test_cli import _cmdline, _descendants

    killed = []

    def kill_one():
        deadline = time.monotonic() + 120
        while not killed and time.monotonic() < deadline:
            for pid in _descendants(os.getpid()):
                if _cmdline(pid).startswith("ray::sweep_point"):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_one)
    killer.start()
    try:
        result = run_sweep(points[:4], tmp_path, RayOptions(num_cpus=1, max_retries=0))
    finally:
        killed.append(None)     # stops the thread if it found nothing
        killer.join()
    assert isinstance(killed[0], int), "no Ray worker was seen running a point"
    (lost,) = [r for r in result.records if r["error"] is not None]
    assert lost["error"].startswith("ray: ") and "WorkerCrashedError" in lost["error"], lost["error"]
    assert not (tmp_path / f"{lost['key']}.json").exists()
    assert sorted(f.stem for f in tmp_path.iterdir()) == sorted(r["key"] for r in result.records if r is not lost)
