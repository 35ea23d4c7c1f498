"""The sweep the tests run: two small HLO modules (an embedding bag and a row lookup, one
file per batch, tables bound by .npz), written with a spec of 2 machines x 2 overrides x
2 models x 2 batches x 4 planner options = 64 points. The lookup's batch-16 inputs file is
bad (it holds no `p1`): those 16 points record their error and the sweep goes on."""

from __future__ import annotations

import pathlib

import numpy as np

BAG = """HloModule bag

add {
  a = f32[] parameter(0)
  b = f32[] parameter(1)
  ROOT s = f32[] add(a, b)
}

ENTRY main {
  table = f32[1000,16] parameter(0)
  ids = s32[B,4] parameter(1)
  rows = f32[B,4,16] gather(table, ids), offset_dims={2}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=2, slice_sizes={1,16}
  zero = f32[] constant(0)
  ROOT bag = f32[B,16] reduce(rows, zero), dimensions={1}, to_apply=add
}
"""

LOOKUP = """HloModule lookup

ENTRY main {
  table = f32[500,16] parameter(0)
  ids = s32[B] parameter(1)
  ROOT rows = f32[B,16] gather(table, ids), offset_dims={1}, collapsed_slice_dims={0}, start_index_map={0}, index_vector_dim=1, slice_sizes={1,16}
}
"""

SPEC = """# 64 points: 2 machines x 2 overrides x 2 models x 2 batches x 4 planner options
machines = ["tmu", "cpu"]
batches = [8, 16]

[[overrides]]
label = "base"

[[overrides]]
label = "half"
cores = 4
dram_bandwidth_gbps = 102.4

[[models]]
name = "bag"
path = "bag_b{batch}.hlo"
hlo_params = "bag_tables.npz"
id_range = 1000

[[models]]
name = "lookup"
path = "lookup_b{batch}.hlo"
hlo_params = "lookup_tables.npz"
inputs = "lookup_in_b{batch}.npz"

[planner]
core_mapping = ["auto", "even"]
lookup_strategy = ["gm", "l1"]
"""

POINTS = 64
BAD_POINTS = 16     # lookup at batch 16, on every machine, override and plan


def write_sweep(folder: pathlib.Path) -> pathlib.Path:
    """The models, tables, inputs and spec in `folder`; returns the spec's path."""
    rng = np.random.default_rng(0)
    for batch in (8, 16):
        (folder / f"bag_b{batch}.hlo").write_text(BAG.replace("[B,", f"[{batch},"))
        (folder / f"lookup_b{batch}.hlo").write_text(LOOKUP.replace("[B]", f"[{batch}]").replace("[B,", f"[{batch},"))
    np.savez(folder / "bag_tables.npz", p0=rng.standard_normal((1000, 16)).astype(np.float32))
    np.savez(folder / "lookup_tables.npz", p0=rng.standard_normal((500, 16)).astype(np.float32))
    np.savez(folder / "lookup_in_b8.npz", p1=rng.integers(0, 500, 8).astype(np.int32))
    np.savez(folder / "lookup_in_b16.npz", ids=rng.integers(0, 500, 16).astype(np.int32))   # bad: no p1
    spec = folder / "sweep.toml"
    spec.write_text(SPEC)
    return spec
