"""Random inputs of a batch from a signature's input details: dense, SparseTensor and
RaggedTensor components, ids in range, the same for the same seed and batch; one-line
errors for what cannot be made up."""

from __future__ import annotations

import numpy as np
import pytest

from ember_tf.emulator.interpreter import TensorDetail
from ember_tf.errors import InputError
from ember_tf.sweep.inputs import random_inputs


def _details(**specs) -> dict[str, TensorDetail]:
    return {name: TensorDetail(name, i, np.dtype(dtype), shape) for i, (name, (dtype, shape)) in
            enumerate(specs.items())}


def test_dense_sparse_and_ragged_inputs():
    details = _details(dense=("float32", (-1, 13)), ids=("int32", (-1, -1)), one=("int64", (-1,)))
    details |= {f"s.{k}": d for k, d in _details(indices=("int64", (-1, 2)), values=("int64", (-1,)),
                                                 dense_shape=("int64", (2,))).items()}
    details |= {f"r.{k}": d for k, d in _details(values=("int32", (-1,)), row_splits=("int64", (-1,))).items()}
    details = {name: TensorDetail(name, i, d.dtype, d.shape_signature) for i, (name, d) in
               enumerate(details.items())}
    ranges = {"ids": 50, "one": 7, "s": 1000, "r.values": 30}
    arrays = random_inputs(details, 5, ranges, 3, seed=0)
    assert set(arrays) == set(details)
    assert arrays["dense"].shape == (5, 13) and arrays["dense"].dtype == np.float32
    assert arrays["ids"].shape == (5, 3) and arrays["ids"].max() < 50 and arrays["ids"].min() >= 0
    assert arrays["one"].dtype == np.int64 and arrays["one"].max() < 7
    np.testing.assert_array_equal(arrays["s.dense_shape"], [5, 3])
    assert arrays["s.indices"].shape == (15, 2) and arrays["s.values"].shape == (15,)
    assert arrays["s.indices"][:, 0].tolist() == sorted(arrays["s.indices"][:, 0].tolist())
    np.testing.assert_array_equal(arrays["r.row_splits"], [0, 3, 6, 9, 12, 15])
    assert arrays["r.values"].dtype == np.int32 and arrays["r.values"].max() < 30
    again = random_inputs(details, 5, ranges, 3, seed=0)
    assert all(np.array_equal(arrays[k], again[k]) for k in arrays)
    other = random_inputs(details, 5, ranges, 3, seed=1)
    assert not np.array_equal(arrays["dense"], other["dense"])


def test_one_id_range_for_every_input_and_static_shapes():
    arrays = random_inputs(_details(p1=("int32", (8, 4)), p2=("float16", (8,))), 8, 100, 2, seed=0)
    assert arrays["p1"].shape == (8, 4) and arrays["p1"].max() < 100 and arrays["p2"].dtype == np.float16


@pytest.mark.parametrize("details, batch, id_range, message", [
    (_details(p1=("int32", (8, 4))), 16, 100, "input 'p1' is shaped [8, 4] for batch 8, not 16"),
    (_details(ids=("int32", (-1,))), 4, None, "input 'ids' takes ids: give id_range"),
    (_details(ids=("int32", (-1,))), 4, {"other": 3}, "input 'ids' takes ids: give its range (id_range.ids)"),
    (_details(n=("int32", ())), 4, 10, "input 'n' is a scalar"),
    (_details(words=("object", (-1,))), 4, 10, "input 'words' is object: random inputs are numbers only"),
])
def test_what_cannot_be_made_up(details, batch, id_range, message):
    with pytest.raises(InputError) as error:
        random_inputs(details, batch, id_range, 2, seed=0)
    assert message in str(error.value)
