"""Random inputs of one batch for a signature, from its input details (the npz naming of
docs/ARCHITECTURE.md): a dense input's first dimension is the batch and any other open
dimension is `pooling`; a SparseTensor `x` (`x.indices`, `x.values`, `x.dense_shape`) and a
RaggedTensor `x` (`x.values`, `x.row_splits`) get `pooling` ids per sample. Integers are ids,
uniform in [0, id_range); floats are standard normal. The same seed and batch give the
same inputs on every machine and plan of a sweep."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from ember_tf.errors import InputError

_SPARSE = (".indices", ".values", ".dense_shape")
_RAGGED = (".values", ".row_splits")


def random_inputs(details: Mapping, batch: int, id_range: int | Mapping[str, int] | None, pooling: int,
                  seed: int) -> dict[str, np.ndarray]:
    """`details`: name -> TensorDetail (dtype, shape_signature with -1 for an open dimension),
    as SignatureRunner.get_input_details gives them."""
    rng = np.random.default_rng([seed, batch])
    arrays: dict[str, np.ndarray] = {}
    for name in sorted(details):
        if name in arrays:
            continue
        base = name.rpartition(".")[0]
        if base and all(base + s in details for s in _SPARSE):
            arrays |= _sparse(base, details, batch, _ids_below(id_range, base + ".values"), pooling, rng)
        elif base and all(base + s in details for s in _RAGGED) and len(_components(base, details)) == 2:
            arrays |= _ragged(base, details, batch, _ids_below(id_range, base + ".values"), pooling, rng)
        else:
            arrays[name] = _dense(details[name], batch, id_range, pooling, rng)
    return arrays


def _components(base: str, details: Mapping) -> list[str]:
    return [n for n in details if n.startswith(base + ".") and "." not in n[len(base) + 1:]]


def _dense(detail, batch: int, id_range, pooling: int, rng: np.random.Generator) -> np.ndarray:
    shape = list(detail.shape_signature)
    if not shape:
        raise InputError(f"input '{detail.name}' is a scalar: give the model's inputs (an inputs .npz)")
    if shape[0] not in (-1, batch):
        raise InputError(f"input '{detail.name}' is shaped {shape} for batch {shape[0]}, not {batch} (a model "
                         f"shaped for one batch, such as an HLO module, needs a file per batch: "
                         f"{{batch}} in its path)")
    shape = [batch] + [pooling if d == -1 else d for d in shape[1:]]
    return _values(detail, shape, id_range, rng)


def _values(detail, shape: list[int], id_range, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(detail.dtype)
    if dtype.kind in "iu":
        return rng.integers(0, _ids_below(id_range, detail.name), shape).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, shape).astype(bool)
    if dtype.kind == "f" or dtype.name == "bfloat16":
        return rng.standard_normal(shape).astype(dtype)
    raise InputError(f"input '{detail.name}' is {dtype}: random inputs are numbers only (give an inputs .npz)")


def _sparse(base: str, details: Mapping, batch: int, ids: int, pooling: int, rng) -> dict[str, np.ndarray]:
    rows = np.repeat(np.arange(batch), pooling)
    columns = np.tile(np.arange(pooling), batch)
    return {f"{base}.indices": np.stack([rows, columns], axis=1).astype(details[f"{base}.indices"].dtype),
            f"{base}.values": rng.integers(0, ids, batch * pooling).astype(details[f"{base}.values"].dtype),
            f"{base}.dense_shape": np.array([batch, pooling], details[f"{base}.dense_shape"].dtype)}


def _ragged(base: str, details: Mapping, batch: int, ids: int, pooling: int, rng) -> dict[str, np.ndarray]:
    return {f"{base}.values": rng.integers(0, ids, batch * pooling).astype(details[f"{base}.values"].dtype),
            f"{base}.row_splits": np.arange(0, batch * pooling + 1, pooling).astype(
                details[f"{base}.row_splits"].dtype)}


def _ids_below(id_range: int | Mapping[str, int] | None, name: str) -> int:
    """The id range of an input (or of a SparseTensor/RaggedTensor by its name)."""
    if isinstance(id_range, Mapping):
        base = name.rpartition(".")[0]
        for key in (name, base):
            if key in id_range:
                return id_range[key]
        raise InputError(f"input '{name}' takes ids: give its range (id_range.{base or name})")
    if id_range is None:
        raise InputError(f"input '{name}' takes ids: give id_range (ids are drawn from [0, id_range))")
    return id_range
