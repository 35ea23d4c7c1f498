"""Element types of tensors and instructions: schema enum <-> names <-> numpy."""

from __future__ import annotations

import dataclasses

import numpy as np

from ember_tf.dae_isa._schema_generated import DType


@dataclasses.dataclass(frozen=True)
class ElementType:
    code: int       # DType enum value in the schema
    name: str       # long name, as TensorFlow spells it
    suffix: str     # short name used as an instruction suffix: vadd.f32
    itemsize: int
    is_float: bool


ELEMENT_TYPES = (
    ElementType(DType.FLOAT32, "float32", "f32", 4, True),
    ElementType(DType.FLOAT16, "float16", "f16", 2, True),
    ElementType(DType.BFLOAT16, "bfloat16", "bf16", 2, True),
    ElementType(DType.FLOAT64, "float64", "f64", 8, True),
    ElementType(DType.INT8, "int8", "i8", 1, False),
    ElementType(DType.INT16, "int16", "i16", 2, False),
    ElementType(DType.INT32, "int32", "i32", 4, False),
    ElementType(DType.INT64, "int64", "i64", 8, False),
    ElementType(DType.UINT8, "uint8", "u8", 1, False),
    ElementType(DType.BOOL, "bool", "b8", 1, False),
)
BY_CODE = {t.code: t for t in ELEMENT_TYPES}
BY_NAME = {t.name: t for t in ELEMENT_TYPES}
BY_SUFFIX = {t.suffix: t for t in ELEMENT_TYPES}

# Tensors may also hold byte strings (signature inputs such as a StringLookup's keys, and
# host-segment values); kernels, instructions and buffers never do.
STRING = ElementType(DType.STRING, "string", "", 0, False)
TENSOR_BY_CODE = BY_CODE | {STRING.code: STRING}
TENSOR_BY_NAME = BY_NAME | {STRING.name: STRING}


def numpy_dtype(code: int) -> np.dtype:
    """The numpy dtype holding elements of DType `code` (strings: objects holding bytes, as
    TensorFlow's `.numpy()` gives them)."""
    name = TENSOR_BY_CODE[code].name
    if name == "string":
        return np.dtype(object)
    if name == "bfloat16":
        import ml_dtypes  # numpy has no bfloat16; ml_dtypes is what TF and JAX use

        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(name)


def from_numpy(dtype: np.dtype) -> int:
    """The DType code for a numpy dtype; KeyError if the format has none."""
    return BY_NAME[np.dtype(dtype).name].code
