"""How fast the fast emulation mode runs, against TensorFlow doing the same
pooled lookups on this machine (both timed in this one run).

    .venv/bin/python bench/emulator_speed.py            # 8 tables x 100,000 x 64 f32, batch 256, pooling 32

The model is the hand-written kernels/eb_sum.dasm applied to each table (one
operator per table): CSR bags, sum combiner. TensorFlow computes the same
pooled lookups two ways inside tf.functions: tf.nn.embedding_lookup_sparse
(the op for CSR/sparse bags, what the emulated kernel implements) and
tf.reduce_sum(tf.gather(table, ids[B, L]), 1) (dense fixed-length bags, its
fastest formulation). Outputs are compared; the ratios printed are emulator
seconds (fast mode, with timing) / TensorFlow seconds, medians of --repeats.

The converted-model path is the one a user takes: the same lookups written as a
tf.Module (embedding_lookup_sparse over each table, SparseTensor ids), saved,
converted with `Converter.from_saved_model(...).convert()` and its defaults, run
through `Interpreter(...)` in its default mode, against the reloaded SavedModel's
signature answering the same request.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import tempfile
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ember_tf import Converter, dae_isa  # noqa: E402
from ember_tf.dae_isa import _schema_generated as fb  # noqa: E402
from ember_tf.emulator import Interpreter  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent


def multi_table_model(tables: int) -> bytes:
    """kernels/eb_sum.dasm's kernel applied to `tables` tables, one operator each."""
    model = dae_isa.assemble((ROOT / "kernels" / "eb_sum.dasm").read_text())
    base = model.tensors
    model.tensors, operators = [], []
    signature = model.signatureDefs[0]
    signature.inputs, signature.outputs = [], []
    for t in range(tables):
        first = len(model.tensors)
        for tensor in base:
            copy = fb.TensorT()
            copy.name, copy.dtype, copy.buffer = f"{tensor.name}{t}", tensor.dtype, tensor.buffer
            copy.shape, copy.shapeSignature = list(tensor.shape), list(tensor.shapeSignature)
            model.tensors.append(copy)
        op = fb.OperatorT()
        op.kind, op.index = fb.OperatorKind.KERNEL, 0
        op.inputs, op.outputs = [first, first + 1, first + 2], [first + 3]
        operators.append(op)
        for index, name in ((first, "table"), (first + 1, "indices"), (first + 2, "offsets")):
            signature.inputs.append(_map(f"{name}{t}", index))
        signature.outputs.append(_map(f"out{t}", first + 3))
    subgraph = model.subgraphs[0]
    subgraph.operators = operators
    subgraph.inputs = [m.tensor for m in signature.inputs]
    subgraph.outputs = [m.tensor for m in signature.outputs]
    return dae_isa.serialize_model(model)


def _map(name: str, tensor: int) -> fb.TensorMapT:
    item = fb.TensorMapT()
    item.name, item.tensor = name, tensor
    return item


def converted_model(tables: list[np.ndarray], directory: str):
    """The lookups as users write them, saved and converted with the defaults: (SavedModel
    signature, Interpreter in its default mode)."""
    import tensorflow as tf

    class Lookups(tf.Module):
        def __init__(self):
            super().__init__()
            self.tables = [tf.Variable(t) for t in tables]

        @tf.function(input_signature=[[tf.SparseTensorSpec([None, None], tf.int64)] * len(tables)])
        def serve(self, ids):
            return {f"out{t}": tf.nn.embedding_lookup_sparse(table, i, None, combiner="sum")
                    for t, (table, i) in enumerate(zip(self.tables, ids))}

    module = Lookups()
    tf.saved_model.save(module, directory, signatures=module.serve)
    return tf.saved_model.load(directory).signatures["serving_default"], \
        Interpreter(model_content=Converter.from_saved_model(directory).convert())


def interleaved_medians(functions: dict, repeats: int) -> dict:
    """Median seconds of each function, timed in turn round after round, so that the
    machine's slow and fast spells fall on all of them alike."""
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=8)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--pooling", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--machine", default="tmu")
    args = parser.parse_args()

    import tensorflow as tf

    rng = np.random.default_rng(0)
    feeds, ids = {}, []
    offsets = np.arange(0, args.batch * args.pooling + 1, args.pooling, dtype=np.int32)
    for t in range(args.tables):
        feeds[f"table{t}"] = rng.standard_normal((args.rows, args.dim)).astype(np.float32)
        feeds[f"indices{t}"] = rng.integers(0, args.rows, size=args.batch * args.pooling).astype(np.int32)
        feeds[f"offsets{t}"] = offsets
        ids.append(feeds[f"indices{t}"].reshape(args.batch, args.pooling))
    lookups = args.tables * args.batch * args.pooling
    print(f"{args.tables} tables x {args.rows:,} rows x dim {args.dim} f32, batch {args.batch}, pooling "
          f"{args.pooling}: {lookups:,} looked-up rows")

    tf_tables = [tf.constant(feeds[f"table{t}"]) for t in range(args.tables)]
    tf_ids = [tf.constant(i) for i in ids]
    sparse_ids = [tf.SparseTensor(np.stack([np.repeat(np.arange(args.batch), args.pooling),
                                            np.tile(np.arange(args.pooling), args.batch)], 1).astype(np.int64),
                                  i.reshape(-1).astype(np.int64), [args.batch, args.pooling]) for i in ids]

    @tf.function
    def dense(tables, id_lists):
        return [tf.reduce_sum(tf.gather(table, i), axis=1) for table, i in zip(tables, id_lists)]

    @tf.function
    def sparse(tables, id_lists):
        return [tf.nn.embedding_lookup_sparse(table, i, None, combiner="sum") for table, i in zip(tables, id_lists)]

    expected = [o.numpy() for o in dense(tf_tables, tf_ids)]
    for got, want in zip(sparse(tf_tables, sparse_ids), expected):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-5)
    interpreter = Interpreter(model_content=multi_table_model(args.tables), machine=args.machine, mode="fast")
    runner = interpreter.get_signature_runner()
    start = time.perf_counter()
    outputs = runner(**feeds)  # the first call loads (or compiles) the numba code
    first_call = time.perf_counter() - start
    for t in range(args.tables):
        np.testing.assert_allclose(outputs[f"out{t}"], expected[t], rtol=1e-5, atol=1e-5)
    medians = interleaved_medians({
        "dense": lambda: [o.numpy() for o in dense(tf_tables, tf_ids)],
        "sparse": lambda: [o.numpy() for o in sparse(tf_tables, sparse_ids)],
        "emulator": lambda: runner(**feeds),
    }, args.repeats)
    tf_dense, tf_sparse, emulator_seconds = medians["dense"], medians["sparse"], medians["emulator"]
    stats = interpreter.last_stats

    with tempfile.TemporaryDirectory() as directory:
        signature, converted = converted_model([feeds[f"table{t}"] for t in range(args.tables)], directory)
        # a TF Serving request: each SparseTensor as its flat components, by SignatureDef key
        request = {}
        for t, sp in enumerate(sparse_ids):
            suffix = [f"_{3 * t}" if t else "", f"_{3 * t + 1}", f"_{3 * t + 2}"]
            for key_suffix, part in zip(suffix, (sp.indices, sp.values, sp.dense_shape)):
                request[f"ids{key_suffix}"] = part
        converted_runner = converted.get_signature_runner()
        served = signature(**request)
        got = converted_runner(**{k: v.numpy() for k, v in request.items()})
        for t in range(args.tables):
            np.testing.assert_allclose(got[f"out{t}"], served[f"out{t}"].numpy(), rtol=1e-5, atol=1e-5)
        numpy_request = {k: v.numpy() for k, v in request.items()}
        path = interleaved_medians({
            "saved_model": lambda: {k: v.numpy() for k, v in signature(**request).items()},
            "converted": lambda: converted_runner(**numpy_request),
        }, args.repeats)
        converted_stats = converted.last_stats

    print(f"TensorFlow {tf.__version__} embedding_lookup_sparse: {tf_sparse * 1e3:9.1f} ms")
    print(f"TensorFlow {tf.__version__} gather + reduce_sum:     {tf_dense * 1e3:9.1f} ms")
    print(f"emulator, fast mode with timing:       {emulator_seconds * 1e3:9.1f} ms   "
          f"(first call {first_call:.1f} s: loading the numba code)")
    print(f"emulated machine: {stats.cycles:,} cycles on {stats.machine}, {stats.dram_bytes:,} DRAM bytes, "
          f"{stats.achieved_bandwidth_gbps:.1f} GB/s")
    print(f"ratio emulator / embedding_lookup_sparse: {emulator_seconds / tf_sparse:6.2f}x  (target: at most 10x)")
    print(f"ratio emulator / gather + reduce_sum:     {emulator_seconds / tf_dense:6.2f}x")
    print()
    print(f"converted-model path (SavedModel -> Converter defaults -> Interpreter default mode "
          f"'{converted_stats.mode}', {converted_stats.machine}, {len(converted_stats.kernels)} kernels, "
          f"{len(converted_stats.host_segments)} host segments):")
    print(f"TensorFlow SavedModel signature:       {path['saved_model'] * 1e3:9.1f} ms")
    print(f"converted .daebin in the emulator:     {path['converted'] * 1e3:9.1f} ms   "
          f"({converted_stats.cycles:,} cycles emulated)")
    print(f"ratio converted / SavedModel:          {path['converted'] / path['saved_model']:6.2f}x  "
          f"(floor: at most 5x; goal 3x)")


if __name__ == "__main__":
    main()
