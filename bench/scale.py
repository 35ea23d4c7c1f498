"""Conversion and emulation at scale: 1, 4 and 8 GiB of tables converted with memory that
does not grow with the tables, then emulated on a batch with memory that follows the rows
the batch touches.

    .venv/bin/python bench/scale.py                    # 1, 4 and 8 GiB (about 10 minutes; ~25 GB of disk)
    .venv/bin/python bench/scale.py --quick            # 128 and 512 MiB (a minute)
    .venv/bin/python bench/scale.py --sizes_gib=1,2 --formats=hlo --workdir=/tmp

The model: 8 float32 tables of dim 64 (together the size asked for; tables of 16 MiB or more
are stored after the FlatBuffer and streamed, smaller ones go inside it), per table an input
`ids_<t>` of [batch, 4] ids and an output `pooled_<t>`, the sum of the 4 rows each sample
reads (`tf.reduce_sum(tf.gather(table, ids), axis=1)`: no host segment, so an emulation
needs no TensorFlow). Row r of table t holds values computed from (t, r), so the bench
knows every expected output without holding a table.

Two sources per size, each built in a process of its own in memory that does not grow with
the tables either:
- savedmodel: a SavedModel whose variables are created uninitialized (`tf.raw_ops.Empty`,
  pages never touched) and saved; its checkpoint is then written again one table at a time
  (`SaveV2` of one table's values, `MergeV2Checkpoints` of the parts with the object graph),
  so it holds the real values and TensorFlow reads it like any other (--quick checks that).
- hlo: the HLO module TensorFlow compiles the same function to (tables and ids as
  parameters), the tables written block by block as p0.npy ... p7.npy for
  `--hlo_params=DIR` (read memory-mapped).

Each `ember-tf convert` and `ember-tf run` runs in its own process, as a user runs it (after
one unmeasured conversion and run of a tiny model, which fill the caches of compiled kernels
and of numba that every later process finds), with
the source's pages dropped from the page cache first (the tables come from disk); wall time
and peak RSS (os.wait4's ru_maxrss, which counts the pages of mapped files too) per process.
Each size is also converted through the Python API, as a TF Serving export pipeline calls it:
a process that imports TensorFlow first (untimed), then times `Converter.from_*(...)
.convert_to_file`; its file must equal the CLI's byte for byte.
The run's outputs are compared with the expected sums. Floors (the issue): peak RSS of
conversion grows by at most 128 MiB from the smallest to the largest size, conversion reads
at least 300 MB/s of tables (tables / wall time at the largest size), and the run's peak RSS
is at most 1 GiB + the bytes of the rows the batch touches.
"""

from __future__ import annotations

import argparse
import filecmp
import inspect
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TABLES, DIM, POOLING, BATCH = 8, 64, 4, 256
GIB, MIB = 1 << 30, 1 << 20
BLOCK_ROWS = 1 << 18            # rows generated at a time (64 MiB of dim-64 float32)
RSS_GROWTH_FLOOR = 128 * MIB    # conversion's peak RSS, largest size less smallest
THROUGHPUT_FLOOR = 300e6        # bytes of tables per second of conversion
RUN_RSS_FLOOR = GIB             # plus the rows the batch touches
BIN = pathlib.Path(sys.executable).parent


def table_rows(table: int, rows: np.ndarray) -> np.ndarray:
    """Rows `rows` of table `table`: multiples of 2^-16 in [-0.5, 0.5), so sums of a few are
    exact in float32 whatever the order of the additions."""
    r = np.asarray(rows, np.int64).reshape(-1, 1)
    h = (r * 2654435761 + np.arange(DIM, dtype=np.int64) * 40503 + (table + 1) * 97531) & 0xFFFF
    return (h.astype(np.float32) / 65536.0 - 0.5).astype(np.float32)


def _blocks(table: int, count: int):
    for start in range(0, count, BLOCK_ROWS):
        stop = min(count, start + BLOCK_ROWS)
        yield start, stop, table_rows(table, np.arange(start, stop))


# -- building the sources (each in a process of its own) ---------------------------------------

def build_saved_model(path: pathlib.Path, rows: int, check: bool) -> None:
    import tensorflow as tf

    names = [f"ids_{t}" for t in range(TABLES)]

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            # uninitialized: its pages are never touched, so 8 GiB of them cost no memory
            self.tables = [tf.Variable(tf.raw_ops.Empty(shape=[rows, DIM], dtype=tf.float32, init=False),
                                       name=f"table_{t}") for t in range(TABLES)]

    model = Model()

    def serve(*ids):
        return {f"pooled_{t}": tf.reduce_sum(tf.gather(table, i), axis=1)
                for t, (table, i) in enumerate(zip(model.tables, ids))}

    serve.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    model.serve = tf.function(serve, input_signature=[tf.TensorSpec([None, POOLING], tf.int32, name=n)
                                                      for n in names])
    tf.saved_model.save(model, str(path), signatures=model.serve)

    # The checkpoint again, with the values: one table in memory at a time.
    prefix = str(path / "variables" / "variables")
    keys = {k for k, _ in tf.train.list_variables(prefix)}
    table_keys = [f"tables/{t}/.ATTRIBUTES/VARIABLE_VALUE" for t in range(TABLES)]
    assert keys == set(table_keys) | {"_CHECKPOINTABLE_OBJECT_GRAPH"}, keys
    graph = tf.train.load_checkpoint(prefix).get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH")
    for old in (path / "variables").iterdir():
        old.unlink()
    parts = path / "parts"
    parts.mkdir()
    prefixes = [str(parts / "graph")]
    tf.raw_ops.SaveV2(prefix=prefixes[0], tensor_names=["_CHECKPOINTABLE_OBJECT_GRAPH"], shape_and_slices=[""],
                      tensors=[tf.constant(graph)])
    for t, key in enumerate(table_keys):
        values = np.empty((rows, DIM), np.float32)
        for start, stop, block in _blocks(t, rows):
            values[start:stop] = block
        prefixes.append(str(parts / f"table_{t}"))
        tf.raw_ops.SaveV2(prefix=prefixes[-1], tensor_names=[key], shape_and_slices=[""],
                          tensors=[tf.convert_to_tensor(values)])
        del values
    tf.raw_ops.MergeV2Checkpoints(checkpoint_prefixes=prefixes, destination_prefix=prefix, delete_old_dirs=True)
    shutil.rmtree(parts, ignore_errors=True)
    if check:   # TensorFlow reads the rewritten checkpoint back as it reads any other
        loaded = tf.saved_model.load(str(path)).signatures["serving_default"]
        feeds = batch(rows, "savedmodel")
        got = loaded(**{k: tf.constant(v) for k, v in feeds.items()})
        for name, value in expected(feeds, "savedmodel").items():
            np.testing.assert_array_equal(got[name].numpy(), value)


def build_hlo(path: pathlib.Path, rows: int) -> None:
    import tensorflow as tf

    path.mkdir(parents=True)
    params = path / "params"
    params.mkdir()
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
              "shape": (rows, DIM)}
    for t in range(TABLES):
        with open(params / f"p{t}.npy", "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            for _, _, block in _blocks(t, rows):
                block.tofile(f)

    def forward(*args):
        return tuple(tf.reduce_sum(tf.gather(table, ids), axis=1) for table, ids in zip(args[:TABLES], args[TABLES:]))

    specs = [tf.TensorSpec([rows, DIM], tf.float32)] * TABLES + [tf.TensorSpec([BATCH, POOLING], tf.int32)] * TABLES
    text = tf.function(forward, jit_compile=True).experimental_get_compiler_ir(*specs)(stage="hlo")
    (path / "module.hlo").write_text(text)


# -- the batch and what it must give -------------------------------------------------------------

def batch(rows: int, source: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(7)
    ids = [rng.integers(0, rows, (BATCH, POOLING)).astype(np.int32) for _ in range(TABLES)]
    keys = [f"ids_{t}" for t in range(TABLES)] if source == "savedmodel" else \
        [f"p{TABLES + t}" for t in range(TABLES)]
    return dict(zip(keys, ids))


def expected(feeds: dict[str, np.ndarray], source: str) -> dict[str, np.ndarray]:
    out = {}
    for t, ids in enumerate(feeds.values()):
        name = f"pooled_{t}" if source == "savedmodel" else f"out{t}"
        out[name] = table_rows(t, ids.reshape(-1)).reshape(BATCH, POOLING, DIM).sum(axis=1)
    return out


def touched(feeds: dict[str, np.ndarray]) -> tuple[int, int]:
    """(bytes of the distinct rows the batch reads, bytes of the distinct 4 KiB pages they lie in)."""
    row_bytes = DIM * 4
    rows = sum(np.unique(ids).size for ids in feeds.values())
    pages = sum(np.unique(np.unique(ids).astype(np.int64) * row_bytes // 4096).size for ids in feeds.values())
    return rows * row_bytes, pages * 4096


# -- measuring ------------------------------------------------------------------------------------

def run_measured(command: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes, stdout) of a child process; exits on failure."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            sys.exit(f"{' '.join(command[:4])} failed:\n{err.read().decode()}")
        return seconds, usage.ru_maxrss * 1024, out.read().decode()


def drop_cache(path: pathlib.Path) -> None:
    """Writes `path`'s files out and drops them from the page cache: read from disk next."""
    for file in ([path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]):
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def one_size(source: str, table_bytes: int, work: pathlib.Path, check: bool) -> dict:
    rows = table_bytes // (TABLES * DIM * 4)
    exact = TABLES * rows * DIM * 4
    folder = work / f"{source}_{rows}"
    model = folder / "model.daebin"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.perf_counter()
    build = [sys.executable, __file__, "--_build", source, "--_rows", str(rows), "--_path", str(folder / "src"),
             f"--tables={TABLES}"]
    run_measured(build + (["--_check"] if check else []))
    built = time.perf_counter() - started
    src = folder / "src"
    drop_cache(src)
    if source == "savedmodel":
        convert = [str(BIN / "ember-tf"), "convert", str(src), str(model)]
    else:
        convert = [str(BIN / "ember-tf"), "convert", str(src / "module.hlo"), str(model),
                   f"--hlo_params={src / 'params'}"]
    seconds, rss, _ = run_measured(convert)
    # The same conversion through the Python API in a process that has TensorFlow loaded already,
    # as a TF Serving export pipeline calls it: only Converter.from_*(...).convert_to_file is timed.
    drop_cache(src)
    api_model = folder / "api.daebin"
    _, api_rss, api_out = run_measured([sys.executable, __file__, "--_api", source, "--_path", str(src),
                                        "--_out", str(api_model)])
    api_seconds = float(api_out.split()[-1])
    same = filecmp.cmp(model, api_model, shallow=False)
    api_model.unlink()
    shutil.rmtree(src)   # the disk is needed for the next size; the run reads only the model
    feeds = batch(rows, source)
    np.savez(folder / "batch.npz", **feeds)
    drop_cache(model)
    run_seconds, run_rss, _ = run_measured([str(BIN / "ember-tf"), "run", str(model),
                                            f"--inputs={folder / 'batch.npz'}", f"--outputs={folder / 'out.npz'}"])
    with np.load(folder / "out.npz") as got:
        equal = all(np.array_equal(got[k], v) for k, v in expected(feeds, source).items())
    row_bytes, page_bytes = touched(feeds)
    result = dict(source=source, table_bytes=exact, rows=rows, build_seconds=round(built, 1),
                  convert_seconds=round(seconds, 2), convert_rss=rss, model_bytes=model.stat().st_size,
                  api_seconds=round(api_seconds, 2), api_rss=api_rss, api_identical=same,
                  run_seconds=round(run_seconds, 2), run_rss=run_rss, touched_row_bytes=row_bytes,
                  touched_page_bytes=page_bytes, equal=bool(equal))
    shutil.rmtree(folder)
    return result


def api_convert(source: str, src: pathlib.Path, out: pathlib.Path) -> None:
    """Converts in this process, TensorFlow imported first (untimed); prints the seconds."""
    import tensorflow  # noqa: F401
    from ember_tf import Converter

    start = time.perf_counter()
    if source == "savedmodel":
        Converter.from_saved_model(src).convert_to_file(out)
    else:
        Converter.from_hlo(src / "module.hlo", src / "params").convert_to_file(out)
    print(time.perf_counter() - start)


def report(results: list[dict]) -> list[str]:
    """The table and the floors, as lines; failures are the floors missed."""
    lines = [f"{'source':<10} {'tables GiB':>10} {'convert s':>9} {'MB/s':>6} {'peak RSS':>10} {'API s':>6} "
             f"{'API MB/s':>8} {'same':>4} {'run peak RSS':>12} {'touched rows':>12} {'(pages)':>9} {'run floor':>10} "
             f"{'equal':>5}"]
    failures = []
    for r in results:
        floor = RUN_RSS_FLOOR + r["touched_row_bytes"]
        lines.append(f"{r['source']:<10} {r['table_bytes'] / GIB:>10.3f} {r['convert_seconds']:>9.1f} "
                     f"{r['table_bytes'] / r['convert_seconds'] / 1e6:>6.0f} {r['convert_rss'] / MIB:>7.0f} MiB "
                     f"{r['api_seconds']:>6.1f} {r['table_bytes'] / r['api_seconds'] / 1e6:>8.0f} "
                     f"{'yes' if r['api_identical'] else 'NO':>4} "
                     f"{r['run_rss'] / MIB:>8.0f} MiB {r['touched_row_bytes'] / MIB:>8.1f} MiB "
                     f"{r['touched_page_bytes'] / MIB:>5.1f} MiB {floor / MIB:>6.0f} MiB {'yes' if r['equal'] else 'NO':>5}")
        if r["run_rss"] > floor:
            failures.append(f"{r['source']} {r['table_bytes'] / GIB:.3f} GiB: run peak RSS {r['run_rss'] / MIB:.0f} "
                            f"MiB > 1 GiB + touched rows")
        if not r["api_identical"]:
            failures.append(f"{r['source']} {r['table_bytes'] / GIB:.3f} GiB: the API's file differs from the CLI's")
        if not r["equal"]:
            failures.append(f"{r['source']} {r['table_bytes'] / GIB:.3f} GiB: outputs differ from the expected sums")
    for source in sorted({r["source"] for r in results}):
        mine = sorted((r for r in results if r["source"] == source), key=lambda r: r["table_bytes"])
        small, large = mine[0], mine[-1]
        growth = large["convert_rss"] - small["convert_rss"]
        rate = large["table_bytes"] / large["convert_seconds"]
        line = (f"{source}: conversion peak RSS grows {growth / MIB:+.0f} MiB from {small['table_bytes'] / GIB:.3f} "
                f"to {large['table_bytes'] / GIB:.3f} GiB (floor: <= {RSS_GROWTH_FLOOR // MIB} MiB); "
                f"{rate / 1e6:.0f} MB/s of tables at {large['table_bytes'] / GIB:.3f} GiB (floor: >= "
                f"{THROUGHPUT_FLOOR / 1e6:.0f})")
        if len(mine) > 1 and large["convert_seconds"] > small["convert_seconds"]:
            marginal = (large["table_bytes"] - small["table_bytes"]) / (large["convert_seconds"] - small["convert_seconds"])
            line += f", {marginal / 1e6:.0f} MB/s per added byte"
        lines.append(line)
        if growth > RSS_GROWTH_FLOOR:
            failures.append(f"{source}: conversion peak RSS grew {growth / MIB:.0f} MiB")
        if rate < THROUGHPUT_FLOOR:
            failures.append(f"{source}: {rate / 1e6:.0f} MB/s of tables at the largest size")
    return lines, failures


def main() -> None:
    global TABLES
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes_gib", default="1,4,8", help="table sizes, GiB, comma separated")
    parser.add_argument("--quick", action="store_true", help="128 and 512 MiB, and TensorFlow checks the checkpoint")
    parser.add_argument("--tables", type=int, default=TABLES, help="how many tables share the size")
    parser.add_argument("--formats", default="savedmodel,hlo", help="savedmodel, hlo or both")
    parser.add_argument("--workdir", default=None, help="where to build (default: a temp dir)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--no_floors", action="store_true", help="exit 0 even when a floor is missed")
    parser.add_argument("--_build", choices=["savedmodel", "hlo"], help=argparse.SUPPRESS)
    parser.add_argument("--_rows", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--_path", help=argparse.SUPPRESS)
    parser.add_argument("--_check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--_api", choices=["savedmodel", "hlo"], help=argparse.SUPPRESS)
    parser.add_argument("--_out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    TABLES = args.tables
    if args._build == "savedmodel":
        return build_saved_model(pathlib.Path(args._path), args._rows, args._check)
    if args._build == "hlo":
        return build_hlo(pathlib.Path(args._path), args._rows)
    if args._api:
        return api_convert(args._api, pathlib.Path(args._path), pathlib.Path(args._out))
    sizes = [1 / 8, 1 / 2] if args.quick else [float(s) for s in args.sizes_gib.split(",")]
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="ember_scale_") as tmp:
        for source in [f for f in args.formats.split(",") if f]:
            # a first conversion fills caches (compiled kernels, the planner's calibration, numba's)
            # that later ones find: not measured, so that every size is measured alike
            one_size(source, TABLES * DIM * 4 * 4096, pathlib.Path(tmp), check=False)
            for size in sizes:
                results.append(one_size(source, int(size * GIB), pathlib.Path(tmp), check=args.quick))
                print(json.dumps(results[-1]), flush=True)
    lines, failures = report(results)
    print("\n".join(lines))
    # A child's ru_maxrss is at least its parent's peak when it was spawned (vfork + exec hand the
    # parent's high-water mark over), so this process must stay far below what it measures.
    print(f"this process's own peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2))
    for failure in failures:
        print(f"floor missed: {failure}")
    if failures and args.quick:
        print("(--quick: the floors are the full run's, where start-up no longer dominates; not enforced)")
    if failures and not (args.no_floors or args.quick):
        sys.exit(1)


if __name__ == "__main__":
    main()
