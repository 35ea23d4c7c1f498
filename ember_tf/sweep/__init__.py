"""Design-space sweeps (`ember-tf sweep SPEC.toml`, docs/SWEEP.md): this package owns the
sweep spec (machines, machine-parameter overrides, models, batch sizes and planner options,
read from TOML), its cross product as points keyed by a content hash, the task that converts
and emulates one point, the driver that runs the points on Ray (a local instance or a
cluster) or serially in this process and caches every completed point so a rerun resumes,
and the results table (Parquet or CSV) with its plot. It sits above the converter and the
emulator and is used only by the CLI."""

from ember_tf.sweep.engine import RayOptions, SweepResult, run_sweep
from ember_tf.sweep.points import Point, expand
from ember_tf.sweep.spec import SweepSpec, load_spec
from ember_tf.sweep.table import METRICS, WALL_COLUMNS, plot, write_results

__all__ = ["METRICS", "WALL_COLUMNS", "Point", "RayOptions", "SweepResult", "SweepSpec", "expand", "load_spec",
           "plot", "run_sweep", "write_results"]
