"""The results table (Parquet and CSV, one schema: parameters, machine parameters, metrics,
wall seconds, error, key) and the plot (a valid PNG, numeric or categorical x)."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.errors import SweepError
from ember_tf.sweep import METRICS, WALL_COLUMNS, expand, load_spec, write_results
from ember_tf.sweep.table import check_output, check_plot
from tests.sweep.models import write_sweep

pyarrow = pytest.importorskip("pyarrow")
from pyarrow import csv, parquet  # noqa: E402


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """The test sweep's points with made-up records (the table does not care how they came)."""
    points = expand(load_spec(write_sweep(tmp_path_factory.mktemp("sweep"))))
    records = []
    for i, point in enumerate(points):
        record = point.columns() | {"error": None, "wall_seconds": 0.5}
        if point.model == "lookup" and point.batch == 16:
            record["error"] = "run: input 'p1' is missing"
        else:
            record |= {name: i * 10 for name in METRICS} | {"modelled_us": i / 3, "convert_seconds": 0.25,
                                                             "run_seconds": 0.25}
        records.append(record)
    return points, records


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_one_row_per_point(tmp_path, sweep, suffix):
    points, records = sweep
    out = tmp_path / f"results{suffix}"
    write_results(records, points, out)
    table = parquet.read_table(out) if suffix == ".parquet" else csv.read_csv(
        out, convert_options=csv.ConvertOptions(strings_can_be_null=True))   # an empty field: no error
    assert table.num_rows == len(points)
    assert table.column_names == ["machine", "override", "model", "batch", "core_mapping", "lookup_strategy",
                                  "cores", "dram_bandwidth_gbps", *METRICS, *WALL_COLUMNS, "error", "key"]
    rows = table.to_pylist()
    assert [r["key"] for r in rows] == [p.key for p in points]
    assert rows[0]["machine"] == "tmu" and rows[0]["cores"] == 8 and rows[-1]["dram_bandwidth_gbps"] == 102.4
    assert rows[1]["cycles"] == 10 and rows[1]["error"] is None
    bad = [r for r in rows if r["error"] is not None]
    assert len(bad) == 16 and all(r["cycles"] is None for r in bad)
    if suffix == ".parquet":
        assert table.schema.field("cycles").type == pyarrow.int64()
        assert table.schema.field("dram_bandwidth_gbps").type == pyarrow.float64()


@pytest.mark.parametrize("parameter", ["batch", "machine", "dram_bandwidth_gbps"])
def test_the_plot_is_a_png(tmp_path, sweep, parameter):
    from matplotlib import image

    points, records = sweep
    write_results(records, points, tmp_path / "r.csv", tmp_path / "p.png", "cycles", parameter)
    data = (tmp_path / "p.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pixels = image.imread(tmp_path / "p.png")
    assert pixels.ndim == 3 and pixels.shape[0] > 100 and np.ptp(pixels) > 0


def test_checks_before_a_sweep_runs(tmp_path, sweep):
    points, _ = sweep
    check_output(tmp_path / "r.parquet")
    with pytest.raises(SweepError, match=r"r.xlsx: the results file must end in .parquet or .csv"):
        check_output(tmp_path / "r.xlsx")
    check_plot(points, "dram_bytes", "cores")
    with pytest.raises(SweepError, match=r"--plot_metric=speed: not a metric \(one of cycles, "):
        check_plot(points, "speed", "batch")
    with pytest.raises(SweepError, match=r"--plot_param=lanes: not a parameter of this sweep \(one of machine, "
                                         r"override, model, batch, core_mapping, lookup_strategy, cores, "):
        check_plot(points, "cycles", "lanes")


def test_nothing_is_written_when_one_file_cannot_be(tmp_path, sweep):
    points, records = sweep
    with pytest.raises(SweepError, match="cannot write"):
        write_results(records, points, tmp_path / "r.parquet", tmp_path / "absent" / "p.png")
    assert list(tmp_path.iterdir()) == []
