"""Build the model zoo: `python -m tests.zoo.build OUT tf|tf_keras [STYLE/FAMILY ...]`.

For every save style of the flavour and every family, saves the model to
OUT/<style>/<family>/model, loads it back with `tf.saved_model.load`, and writes
per signature what a TF Serving request holds and what the loaded signature
answers: `<signature>.feeds.npz` (inputs by SignatureDef key) and
`<signature>.npz` (outputs, composite ones by npz component). A cell that cannot
be built is recorded in error.txt (the test then fails showing it), one the style
cannot express in not_applicable.txt."""

from __future__ import annotations

import os
import sys
import traceback

import numpy as np


def feeds(values: dict) -> dict[str, np.ndarray]:
    """Structured values -> npz components (`x`, `x.indices`/`x.values`/`x.dense_shape`,
    `x.values`/`x.row_splits`)."""
    import tensorflow as tf

    out = {}
    for name, value in values.items():
        if isinstance(value, tf.SparseTensor):
            out |= {f"{name}.indices": value.indices.numpy(), f"{name}.values": value.values.numpy(),
                    f"{name}.dense_shape": value.dense_shape.numpy()}
        elif isinstance(value, tf.RaggedTensor):
            out |= {f"{name}.values": value.flat_values.numpy(), f"{name}.row_splits": value.row_splits.numpy()}
        else:
            out[name] = _storable(np.asarray(value))
    return out


def _storable(array: np.ndarray) -> np.ndarray:
    """Strings as bytes arrays (an .npz of objects needs pickles)."""
    return array.astype(bytes) if array.dtype == object else array


def request_feeds(signature, inputs: dict) -> dict[str, np.ndarray]:
    """Structured inputs as a TF Serving request: flat components by SignatureDef key, in
    the order the signature function takes them (inputs sorted by name, as a dict flattens)."""
    import tensorflow as tf

    specs = signature.structured_input_signature[1]
    keys = [arg.name for arg in signature.function_def.signature.input_arg if arg.name in specs]
    values = tf.nest.flatten([inputs[name] for name in sorted(inputs)], expand_composites=True)
    assert len(keys) == len(values), (keys, len(values))
    return {key: _storable(np.asarray(value)) for key, value in zip(keys, values)}


def build(out: str, flavor: str, only: set[str] | None = None) -> None:
    import tensorflow as tf

    from tests.zoo.families import FAMILIES
    from tests.zoo.models import MODELS
    from tests.zoo.styles import STYLES, NotApplicable

    cells = [(style.name, family, style.save) for style in STYLES if style.flavor == flavor for family in FAMILIES]
    cells += [(style, model, save) for style, model, save in MODELS if style_flavor(style) == flavor]
    for style, family, save in cells:
        if only and f"{style}/{family.name}" not in only:
            continue
        cell = os.path.join(out, style, family.name)
        os.makedirs(cell, exist_ok=True)
        try:
            tf.keras.utils.set_random_seed(7)
            saved = save(family, os.path.join(cell, "model"))
            inputs = family.inputs(tf)
            loaded = tf.saved_model.load(os.path.join(cell, "model"))
            for key in saved.signatures:
                request = request_feeds(loaded.signatures[key], inputs)
                np.savez(os.path.join(cell, f"{key}.feeds.npz"), **request)
                answer = feeds(loaded.signatures[key](**{k: tf.constant(v) for k, v in request.items()}))
                want = feeds(saved.signatures[key](inputs))   # the model object, before saving
                assert sorted(answer) == sorted(want), (sorted(answer), sorted(want))
                for name in want:
                    np.testing.assert_allclose(answer[name], want[name], rtol=1e-6, atol=1e-6)
                np.savez(os.path.join(cell, f"{key}.npz"), **answer)
        except NotApplicable as e:
            with open(os.path.join(cell, "not_applicable.txt"), "w") as f:
                f.write(str(e))
        except Exception:  # noqa: BLE001 - recorded for the test to report
            with open(os.path.join(cell, "error.txt"), "w") as f:
                f.write(traceback.format_exc())


def style_flavor(style: str) -> str:
    return "tf_keras" if style.startswith("tf_keras") else "tf"


if __name__ == "__main__":
    out_dir, flavor = sys.argv[1], sys.argv[2]
    build(out_dir, flavor, set(sys.argv[3:]) or None)
