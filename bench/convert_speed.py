"""How fast and how lean `ember-tf convert` is on a SavedModel with large tables,
against tf.lite.TFLiteConverter on the same SavedModel (both timed in this run).

    .venv/bin/python bench/convert_speed.py                  # 1 GiB of tables
    .venv/bin/python bench/convert_speed.py --table_gib=0.1  # a quick look

The model: 8 float32 tables of dim 64 (together --table_gib), one id per table
per sample (a column of an int matrix), the rows concatenated into a dense layer.
Each converter runs in its own process, as a user runs it: `ember-tf convert` on
the command line, and a Python process calling
`tf.lite.TFLiteConverter.from_saved_model(...).convert()` and writing the file.
Wall time and peak RSS (os.wait4) are measured per process; the .daebin is then
emulated on a batch and compared with TensorFlow. The model is built, and its expected
outputs computed, in a process of its own: a child's peak RSS starts at its parent's when
it is spawned, so the measuring process must never hold the tables. Prints the ratios the issue
asks for: ember-tf wall / TFLite wall (floor: <= 2), and ember-tf peak RSS
against 1.5 x table bytes + 1 GiB.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

TABLES, DIM = 8, 64
GIB = 1 << 30
TFLITE = """
import sys, tensorflow as tf
converter = tf.lite.TFLiteConverter.from_saved_model(sys.argv[1])
content = converter.convert()
with open(sys.argv[2], "wb") as f:
    f.write(content)
"""


def build(path: pathlib.Path, table_bytes: int):
    import tensorflow as tf

    rows = table_bytes // (TABLES * DIM * 4)
    rng = np.random.default_rng(0)

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.tables = [tf.Variable(rng.standard_normal((rows, DIM), dtype=np.float32)) for _ in range(TABLES)]
            self.kernel = tf.Variable(rng.standard_normal((TABLES * DIM, 1), dtype=np.float32) * 0.01)

        @tf.function(input_signature=[tf.TensorSpec([None, TABLES], tf.int32)])
        def __call__(self, ids):
            rows = [tf.nn.embedding_lookup(t, ids[:, i]) for i, t in enumerate(self.tables)]
            return {"score": tf.matmul(tf.concat(rows, axis=1), self.kernel)}

    model = Model()
    tf.saved_model.save(model, str(path))
    ids = np.random.default_rng(1).integers(0, rows, (256, TABLES)).astype(np.int32)
    np.savez(path.parent / "expected.npz", ids=ids, score=model(ids)["score"].numpy())


def measure(command: list[str]) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes) of a child process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode()
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command[:3])} failed:\n{stderr}")
    return seconds, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table_gib", type=float, default=1.0, help="total table size, GiB")
    parser.add_argument("--workdir", default=None, help="where to write the models (default: a temp dir)")
    parser.add_argument("--_build", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    table_bytes = int(args.table_gib * GIB)
    if args._build:
        return build(pathlib.Path(args._build), table_bytes)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = pathlib.Path(tmp)
        measure([sys.executable, __file__, f"--table_gib={args.table_gib}", f"--_build={work / 'saved_model'}"])
        rows = table_bytes // (TABLES * DIM * 4)
        exact = TABLES * rows * DIM * 4
        print(f"SavedModel: {TABLES} tables x {rows:,} rows x {DIM} float32 = {exact / GIB:.2f} GiB")
        bin_dir = pathlib.Path(sys.executable).parent
        own_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        ours, ours_rss = measure([str(bin_dir / "ember-tf"), "convert", str(work / "saved_model"),
                                  str(work / "model.daebin")])
        theirs, theirs_rss = measure([sys.executable, "-c", TFLITE, str(work / "saved_model"),
                                      str(work / "model.tflite")])
        from ember_tf import Interpreter

        with np.load(work / "expected.npz") as expected:
            ids, want = expected["ids"], expected["score"]
        got = Interpreter(model_path=work / "model.daebin", mode="fast").get_signature_runner()(ids=ids)["score"]
        equal = np.allclose(got, want, rtol=1e-5, atol=1e-5)
        limit = 1.5 * exact + GIB
        print(f"ember-tf convert : {ours:7.1f} s, peak RSS {ours_rss / GIB:5.2f} GiB, "
              f"{(work / 'model.daebin').stat().st_size / GIB:.2f} GiB .daebin; equals TensorFlow: "
              f"{'yes' if equal else 'NO'}")
        print(f"TFLiteConverter  : {theirs:7.1f} s, peak RSS {theirs_rss / GIB:5.2f} GiB, "
              f"{(work / 'model.tflite').stat().st_size / GIB:.2f} GiB .tflite")
        print(f"wall time ratio ember-tf / TFLite: {ours / theirs:.2f} (floor: <= 2)")
        print(f"peak RSS ember-tf: {ours_rss / GIB:.2f} GiB = {ours_rss / limit:.2f} x the limit "
              f"1.5 x tables + 1 GiB = {limit / GIB:.2f} GiB")
        print(f"(this process's own peak RSS when it spawned them: {own_rss / GIB:.2f} GiB)")


if __name__ == "__main__":
    main()
