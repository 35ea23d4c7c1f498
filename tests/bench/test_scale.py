"""bench/scale.py in small form (CI): both sources built, converted and run in processes of
their own, outputs equal to the expected sums, conversion's peak RSS flat across sizes and a
run's within 1 GiB + the rows it touches. Throughput is the full run's (BENCHMARKS.md): at a
few tens of MiB the fixed start-up cost of a process is all there is. `--quick` (128 and
512 MiB, TensorFlow checking the rewritten checkpoint) runs with EMBER_SLOW=1."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "bench" / "scale.py"
MIB, GIB = 1 << 20, 1 << 30


def _run(tmp_path, *flags) -> list[dict]:
    out = tmp_path / "results.json"
    result = subprocess.run([sys.executable, str(BENCH), f"--workdir={tmp_path}", f"--json={out}", "--no_floors",
                             *flags], capture_output=True, text=True, timeout=1200,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "conversion peak RSS grows" in result.stdout
    return json.loads(out.read_text())


def _check(results: list[dict], sizes: int) -> None:
    assert sorted({r["source"] for r in results}) == ["hlo", "savedmodel"]
    for source in ("hlo", "savedmodel"):
        mine = sorted((r for r in results if r["source"] == source), key=lambda r: r["table_bytes"])
        assert len(mine) == sizes
        assert all(r["equal"] for r in mine)
        assert all(r["api_identical"] for r in mine)     # the Python API writes the CLI's bytes
        assert mine[-1]["convert_rss"] - mine[0]["convert_rss"] <= 128 * MIB
        for r in mine:
            assert r["model_bytes"] > r["table_bytes"]
            assert r["run_rss"] <= GIB + r["touched_row_bytes"]


def test_scale_in_small_form(tmp_path):
    _check(_run(tmp_path, "--tables=2", "--sizes_gib=0.04,0.08"), 2)   # 20 and 40 MiB tables: streamed


@pytest.mark.slow
def test_scale_quick(tmp_path):
    _check(_run(tmp_path, "--quick"), 2)
