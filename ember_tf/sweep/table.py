"""The results of a sweep as one table (Parquet or CSV by the file's suffix, through
pyarrow): a row per point in the spec's order, its parameters, the overridden machine
parameters' values, the run's figures and its error; and a plot of one metric against one
parameter (matplotlib), a line per combination of the other parameters that vary."""

from __future__ import annotations

import itertools
import pathlib
from typing import Any

from ember_tf.dae_isa.writer import write_files
from ember_tf.errors import SweepError
from ember_tf.sweep.points import PARAMETERS, Point

# The figures of a run: column -> pyarrow type name.
METRICS = {"cycles": "int64", "modelled_us": "float64", "dram_bytes": "int64", "instructions": "int64",
           "kernels": "int64", "kernel_cycles": "int64", "host_cycles": "int64", "daebin_bytes": "int64"}
# Wall-clock seconds: they differ run to run (a comparison of two sweeps leaves them out).
WALL_COLUMNS = ("convert_seconds", "run_seconds", "wall_seconds")
FORMATS = (".parquet", ".csv")


def check_output(path: str | pathlib.Path) -> None:
    """Before a sweep runs: the results file's format is known."""
    if pathlib.Path(path).suffix.lower() not in FORMATS:
        raise SweepError(f"{path}: the results file must end in .parquet or .csv")


def parameter_columns(points: list[Point]) -> list[str]:
    return list(PARAMETERS) + [name for name, _ in points[0].machine_parameters] if points else list(PARAMETERS)


def check_plot(points: list[Point], metric: str, parameter: str) -> None:
    """Before a sweep runs: the plot's metric and parameter are columns it will have."""
    if metric not in METRICS:
        raise SweepError(f"--plot_metric={metric}: not a metric (one of {', '.join(METRICS)})")
    columns = parameter_columns(points)
    if parameter not in columns:
        raise SweepError(f"--plot_param={parameter}: not a parameter of this sweep (one of {', '.join(columns)})")


def write_results(records: list[dict], points: list[Point], path: str | pathlib.Path,
                  plot_to: str | pathlib.Path | None = None, metric: str = "cycles", parameter: str = "batch") -> None:
    """The table (and the plot) written atomically together: all of them or none."""
    table = _table(records, points)
    files = {path: lambda f: _write_table(table, path, f)}
    if plot_to is not None:
        files[plot_to] = lambda f: plot(records, points, metric, parameter, f)
    try:
        write_files(files)
    except OSError as e:
        raise SweepError(f"{e.filename}: cannot write: {e.strerror}") from None


def _table(records: list[dict], points: list[Point]):
    import pyarrow

    schema = pyarrow.schema(
        [(name, _arrow_type(pyarrow, records, name)) for name in parameter_columns(points)]
        + [(name, getattr(pyarrow, kind)()) for name, kind in METRICS.items()]
        + [(name, pyarrow.float64()) for name in WALL_COLUMNS]
        + [("error", pyarrow.string()), ("key", pyarrow.string())])
    rows = [{name: record.get(name) for name in schema.names} for record in records]
    return pyarrow.Table.from_pylist(rows, schema=schema)


def _arrow_type(pyarrow, records: list[dict], name: str):
    values = [r[name] for r in records if r.get(name) is not None]
    if values and all(isinstance(v, bool) for v in values):
        return pyarrow.bool_()
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return pyarrow.int64()
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return pyarrow.float64()
    return pyarrow.string()


def _write_table(table, path: str | pathlib.Path, file) -> None:
    if pathlib.Path(path).suffix.lower() == ".csv":
        from pyarrow import csv

        csv.write_csv(table, file)
    else:
        from pyarrow import parquet

        parquet.write_table(table, file)


def plot(records: list[dict], points: list[Point], metric: str, parameter: str, file) -> None:
    """`metric` against `parameter` as a PNG: a line per combination of the other parameters
    that take more than one value (points with an error are left out)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    varying = [c for c in _series_columns(points, parameter) if len({r.get(c) for r in records}) > 1]
    xs = sorted({r[parameter] for r in records}, key=_order)
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    figure, axes = pyplot.subplots(figsize=(8, 5))
    good = [r for r in records if r.get("error") is None and r.get(metric) is not None]
    key = lambda r: tuple(_order(r.get(c)) for c in varying)   # noqa: E731
    for series, rows in itertools.groupby(sorted(good, key=key), key=key):
        rows = sorted(rows, key=lambda r: _order(r[parameter]))
        x = [r[parameter] if numeric else xs.index(r[parameter]) for r in rows]
        label = ", ".join(f"{c}={rows[0].get(c)}" for c in varying) or metric
        axes.plot(x, [r[metric] for r in rows], marker="o", label=label)
    if not numeric:
        axes.set_xticks(range(len(xs)), [str(x) for x in xs])
    axes.set_xlabel(parameter)
    axes.set_ylabel(metric)
    axes.set_title(f"{metric} by {parameter} ({len(good)} of {len(records)} points)")
    if good:
        axes.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    figure.savefig(file, format="png", dpi=100, bbox_inches="tight")
    pyplot.close(figure)


def _series_columns(points: list[Point], parameter: str) -> list[str]:
    """The columns that tell one line from another: the parameters but the x axis. An
    override's machine parameters follow from its label, so they are left out; but plotted
    against a machine parameter, the override is what moves along the line."""
    machine_parameters = [name for name, _ in points[0].machine_parameters] if points else []
    if parameter in machine_parameters:
        return [c for c in PARAMETERS if c != "override"]
    return [c for c in PARAMETERS if c != parameter]


def _order(value: Any) -> tuple:
    """Sorts numbers by value before strings by text (a column may hold both)."""
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, str(value))
