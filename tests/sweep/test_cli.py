"""`ember-tf sweep` from the command line, as issue 18 accepts it: the 64-point sweep on a
local Ray with 2 workers, one worker killed while it runs a point, the table complete and
equal to a serial run, a rerun skipping every point; the same sweep on a `ray start --head`
cluster this test starts (and stops: only its own processes); bad specs and flags as one
line, exit status 2 and no output file."""

from __future__ import annotations

import os
import pathlib
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from ember_tf.sweep import WALL_COLUMNS
from tests.sweep.models import BAD_POINTS, POINTS, write_sweep

parquet = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("ray")

BIN = pathlib.Path(sys.executable).parent
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SUMMARY = f"{POINTS} points, 0 cached, {POINTS} run, {BAD_POINTS} failed"


def ember_tf(*args, env=ENV, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "ember-tf"), *map(str, args)], capture_output=True, text=True, env=env,
                          timeout=300, **kwargs)


def _rows(path: pathlib.Path) -> list[dict]:
    """The table without its wall-clock columns (they differ run to run)."""
    return parquet.read_table(path).drop_columns(list(WALL_COLUMNS)).to_pylist()


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> pathlib.Path:
    return write_sweep(tmp_path_factory.mktemp("sweep"))


@pytest.fixture(scope="module")
def serial_rows(spec) -> list[dict]:
    out = spec.parent / "serial.parquet"
    result = ember_tf("sweep", spec, f"--out={out}", "--serial", f"--cache_dir={spec.parent / 'serial_cache'}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(SUMMARY), result.stdout
    rows = _rows(out)
    assert len(rows) == POINTS and sum(r["error"] is not None for r in rows) == BAD_POINTS
    assert all(r["cycles"] > 0 for r in rows if r["error"] is None)
    return rows


def test_local_ray_survives_a_killed_worker(spec, serial_rows):
    out, cache, plot = spec.parent / "ray.parquet", spec.parent / "ray_cache", spec.parent / "ray.png"
    args = ["sweep", str(spec), f"--out={out}", "--num_cpus=2", f"--cache_dir={cache}", f"--plot={plot}",
            "--plot_param=dram_bandwidth_gbps"]
    driver = subprocess.Popen([str(BIN / "ember-tf"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=ENV)
    killed = _kill_a_worker_running_a_point(driver)
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr
    assert killed, "no Ray worker was seen running a point"
    assert f"running {POINTS} on a local Ray instance (2 CPUs)" in stderr
    # Ray's driver prints what its raylet saw: the worker died mid-point, and the point ran again
    assert "Task sweep_point failed. There are 3 retries remaining, so the task will be retried" in stdout + stderr
    assert stdout.strip().splitlines()[-1].startswith(SUMMARY), stdout
    assert _rows(out) == serial_rows          # complete, and what the serial run gave
    assert plot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    again = ember_tf(*args)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"{POINTS} points, {POINTS} cached, 0 run"), again.stdout
    assert _rows(out) == serial_rows


def _kill_a_worker_running_a_point(driver: subprocess.Popen, timeout: float = 120) -> int | None:
    """SIGKILL the first process below the driver that Ray shows running a point
    (`ray::sweep_point`: the title Ray gives a worker while it runs that task)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and driver.poll() is None:
        for pid in _descendants(driver.pid):
            if _cmdline(pid).startswith("ray::sweep_point"):
                os.kill(pid, signal.SIGKILL)
                return pid
        time.sleep(0.01)
    return None


def _descendants(root: int) -> list[int]:
    parents = {}
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()   # after "pid (comm)": state, ppid, ...
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _cmdline(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@pytest.fixture
def ray_cluster(tmp_path):
    """A one-node cluster (`ray start --head --block`, 2 CPUs) with token authentication, as a
    real one runs. Stopped by ending that command (it stops the processes it started), never
    by `ray stop`, which would stop every Ray instance on the machine."""
    port = _free_port()
    token = tmp_path / "ray_token"
    token.write_text(secrets.token_hex(32))
    # Outside tmp_path: Ray's unix sockets live in its temp dir, and their paths may not pass 107 bytes.
    temp = tempfile.mkdtemp(prefix="ember-ray-")
    env = ENV | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token),
                 "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    log = tmp_path / "ray_head.log"
    with open(log, "w") as head_log:
        head = subprocess.Popen([str(BIN / "ray"), "start", "--head", f"--port={port}", "--num-cpus=2",
                                 "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}", "--block"],
                                stdout=head_log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text():
            assert head.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        yield f"127.0.0.1:{port}", env
    finally:
        head.terminate()
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        _kill_group(head.pid)
        shutil.rmtree(temp, ignore_errors=True)


def _kill_group(group: int) -> None:
    """Whatever of the cluster outlived its head command (it runs in a session of its own)."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_ray_cluster(spec, serial_rows, ray_cluster):
    address, env = ray_cluster
    out = spec.parent / "cluster.parquet"
    args = ["sweep", spec, f"--out={out}", f"--ray_address={address}", f"--cache_dir={spec.parent / 'cluster_cache'}"]
    result = ember_tf(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert f"running {POINTS} on the Ray cluster at {address}" in result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith(SUMMARY), result.stdout
    assert _rows(out) == serial_rows

    again = ember_tf(*args, env=env)
    assert again.returncode == 0 and again.stdout.startswith(f"{POINTS} points, {POINTS} cached, 0 run"), again


def _assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr + result.stdout, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.mark.parametrize("edit, args, needles", [
    (("cores = 4", "corez = 4"), (), ("sweep.toml: overrides[1].corez: unknown machine parameter",)),
    (("batches = [8, 16]", "batches = [8, -16]"), (), ("sweep.toml: batches[1]: must be a positive integer",)),
    (("lookup_b{batch}.hlo", "lookup_{batch}.hlo"), (), ("sweep.toml: models[1].path:", "does not exist")),
    (None, ("--plot=p.png", "--plot_param=colour"), ("--plot_param=colour: not a parameter",)),
    (None, ("--plot=p.png", "--plot_metric=speed"), ("--plot_metric=speed: not a metric",)),
    (None, ("--serial", "--ray_address=127.0.0.1:1"), ("--serial runs the points in this process",)),
    (None, (f"--ray_address=127.0.0.1:{_free_port()}",), ("cannot reach the Ray cluster at 127.0.0.1:",)),
])
def test_bad_specs_and_flags(tmp_path, edit, args, needles):
    spec = write_sweep(tmp_path)
    if edit is not None:
        spec.write_text(spec.read_text().replace(*edit))
    result = ember_tf("sweep", spec, "--out=r.parquet", *args, cwd=tmp_path)
    _assert_one_line_error(result, *needles)
    assert not (tmp_path / "r.parquet").exists() and not (tmp_path / "p.png").exists()
    assert not (tmp_path / ".ember-sweep-cache").exists()


def test_bad_output_paths(tmp_path):
    spec = write_sweep(tmp_path)
    _assert_one_line_error(ember_tf("sweep", spec, f"--out={tmp_path / 'r.xlsx'}"), "must end in .parquet or .csv")
    _assert_one_line_error(ember_tf("sweep", spec, f"--out={tmp_path / 'no' / 'r.csv'}"), "does not exist")
    _assert_one_line_error(ember_tf("sweep", tmp_path / "absent.toml", f"--out={tmp_path / 'r.csv'}"),
                           "absent.toml: cannot read")
    assert not (tmp_path / "r.xlsx").exists() and not (tmp_path / "r.csv").exists()
