"""The ways people save a model, each a function `save(family, directory) -> Saved`.

tf.Module styles: a tf.function with `input_signature` given as the signature; a concrete
function from `get_concrete_function()`; several signatures sharing functions and tables
with extra traces; nested submodules holding lists and dicts of variables; a SavedModel
loaded with `tf.saved_model.load` and saved again. Keras 3: `model.export()` and
`keras.export.ExportArchive`. Keras 2 (tf_keras, TF_USE_LEGACY_KERAS=1): `model.save(dir)`
and `tf.saved_model.save(model, dir)`. Keras 2 styles run in their own process (the
Keras flavour is fixed when TensorFlow first resolves `tf.keras`)."""

from __future__ import annotations

import dataclasses
from typing import Callable

from tests.zoo.families import Family


class NotApplicable(Exception):
    """The style cannot express the family (a limit of the exporter, not of ember-tf)."""


@dataclasses.dataclass(frozen=True)
class Saved:
    """What a style saved: per signature key, the callable TensorFlow answers with."""

    signatures: dict[str, Callable[[dict], dict]]
    owner: object = None  # keeps the model alive (tf.function methods hold it weakly)


@dataclasses.dataclass(frozen=True)
class Style:
    name: str
    flavor: str  # "tf" (tf.Module and Keras 3) | "tf_keras" (Keras 2, its own process)
    save: Callable[[Family, str], Saved]


def _tf():
    import tensorflow as tf

    return tf


def _keras():
    import tensorflow as tf

    return tf.keras  # Keras 3, or tf_keras when TF_USE_LEGACY_KERAS=1


def _specs(family: Family) -> dict:
    return family.specs(_tf())


def _weights(family: Family, new_variable) -> dict:
    """The family's weights: a variable per table, and its Keras layers."""
    weights = {name: new_variable(name, value) for name, value in family.tables().items()}
    return weights | (family.layers(_keras()) if family.layers else {})


def _variable(name, value):
    return _tf().Variable(value, name=name, trainable=value.dtype.kind == "f")


def _scaled(outputs: dict) -> dict:
    return {key: value * 3.0 for key, value in outputs.items()}


# -- tf.Module ----------------------------------------------------------------------------

def _module(family: Family, nested: bool = False):
    tf = _tf()
    specs = _specs(family)

    class Tables(tf.Module):
        def __init__(self):
            super().__init__()
            weights = _weights(family, _variable)
            names = list(weights)
            # lists and dicts of variables, as people organise them
            self.by_name = {name: [weights[name]] for name in names}

        def weights(self):
            return {name: values[0] for name, values in self.by_name.items()}

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            if nested:
                self.towers = [Tables()]
            else:
                self.tables = _weights(family, _variable)

        def weights(self):
            return self.towers[0].weights() if nested else dict(self.tables)

        @tf.function(input_signature=[specs])
        def serve(self, inputs):
            return family.call(tf, self.weights(), inputs)

        @tf.function
        def traced(self, inputs):
            return family.call(tf, self.weights(), inputs)

        @tf.function
        def scaled(self, inputs):
            return _scaled(family.call(tf, self.weights(), inputs))

    return Model()


def _keyword_function(family: Family, body):
    """A tf.function taking the family's inputs as arguments named after them (sorted, as a
    dict flattens), as a signature is written by hand; `body` takes them as one dict."""
    tf = _tf()
    specs = _specs(family)
    names = sorted(specs)
    source = f"def serve({', '.join(names)}):\n    return body({{{', '.join(f'{n!r}: {n}' for n in names)}}})\n"
    scope = {"body": body}
    exec(source, scope)  # noqa: S102 - argument names are the signature's input names
    return tf.function(scope["serve"], input_signature=[specs[n] for n in names])


def _save_module(family: Family, path: str, signature: str) -> Saved:
    tf = _tf()
    model = _module(family, nested=signature == "nested")
    if signature in ("function", "nested"):
        model.serve_kw = _keyword_function(family, model.serve)
        tf.saved_model.save(model, path, signatures=model.serve_kw)
        return Saved({"serving_default": model.serve}, model)
    if signature == "concrete":
        model.serve_kw = _keyword_function(family, model.serve)
        tf.saved_model.save(model, path, signatures={"serving_default": model.serve_kw.get_concrete_function()})
        return Saved({"serving_default": model.serve}, model)
    # several signatures over the same tables: traced functions without input_signature,
    # one traced again on real inputs first (a second trace in the library)
    model.traced(family.inputs(tf))
    model.traced_kw = _keyword_function(family, model.traced)
    model.scaled_kw = _keyword_function(family, model.scaled)
    tf.saved_model.save(model, path, signatures={
        "serving_default": model.traced_kw.get_concrete_function(),
        "scaled": model.scaled_kw.get_concrete_function()})
    return Saved({"serving_default": model.traced, "scaled": model.scaled}, model)


def _save_resaved(family: Family, path: str) -> Saved:
    tf = _tf()
    first = path + ".first"
    saved = _save_module(family, first, "function")
    loaded = tf.saved_model.load(first)
    tf.saved_model.save(loaded, path, signatures=loaded.signatures)
    return saved


# -- Keras ----------------------------------------------------------------------------------

def _keras_model(family: Family, call: bool = True):
    tf, keras = _tf(), _keras()

    class ZooLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__(name=f"zoo_{family.name}")
            weights = _weights(family, self._weight)
            self.weight_names, self.weight_list = list(weights), list(weights.values())

        def _weight(self, name, value):
            return self.add_weight(name=name, shape=value.shape, dtype=value.dtype.name,
                                   initializer=keras.initializers.Constant(value),
                                   trainable=value.dtype.kind == "f")

        def call(self, inputs):
            # Keras 3 variables hand TensorFlow ops their tf.Variable as `.value`
            weights = [w if isinstance(w, (tf.Variable, keras.layers.Layer)) else w.value for w in self.weight_list]
            return family.call(tf, dict(zip(self.weight_names, weights)), inputs)

    class ZooModel(keras.Model):
        def __init__(self):
            super().__init__(name="zoo")
            self.zoo = ZooLayer()

        def call(self, inputs):
            return self.zoo(inputs)

    model = ZooModel()
    if call:
        model(family.inputs(tf))
    else:  # the weights exist from __init__; a call would record a (densified) input spec
        model.zoo.built = model.built = True
    return model


def _save_keras3_export(family: Family, path: str) -> Saved:
    tf = _tf()
    specs = _specs(family)
    if any(not isinstance(spec, tf.TensorSpec) for spec in specs.values()):
        # Keras 3.15's export turns every input spec into a dense tf.TensorSpec
        raise NotApplicable("Keras 3 model.export() writes dense input specs only")
    model = _keras_model(family)
    model.export(path, verbose=False, input_signature=[specs])
    return Saved({"serving_default": model, "serve": model}, model)


def _save_keras3_archive(family: Family, path: str) -> Saved:
    keras = _keras()
    model = _keras_model(family, call=False)
    archive = keras.export.ExportArchive()
    archive.track(model)
    # tf.functions over the layer's call: Keras' own input conversion would densify sparse inputs
    specs = [_specs(family)]
    archive.add_endpoint("serve", _tf().function(lambda inputs: model.zoo.call(inputs), input_signature=specs))
    archive.add_endpoint("scaled", _tf().function(lambda inputs: _scaled(model.zoo.call(inputs)),
                                                  input_signature=specs))
    archive.write_out(path, verbose=False)
    return Saved({"serve": model.zoo.call, "scaled": lambda inputs: _scaled(model.zoo.call(inputs))}, model)


def _save_tf_keras(family: Family, path: str) -> Saved:
    model = _keras_model(family)
    model.save(path)
    return Saved({"serving_default": model})


def _save_tf_keras_tf(family: Family, path: str) -> Saved:
    model = _keras_model(family)
    _tf().saved_model.save(model, path)
    return Saved({"serving_default": model})


STYLES: tuple[Style, ...] = (
    Style("tf_function", "tf", lambda f, p: _save_module(f, p, "function")),
    Style("concrete_function", "tf", lambda f, p: _save_module(f, p, "concrete")),
    Style("shared_signatures", "tf", lambda f, p: _save_module(f, p, "shared")),
    Style("nested_module", "tf", lambda f, p: _save_module(f, p, "nested")),
    Style("resaved", "tf", _save_resaved),
    Style("keras3_export", "tf", _save_keras3_export),
    Style("keras3_archive", "tf", _save_keras3_archive),
    Style("tf_keras_save", "tf_keras", _save_tf_keras),
    Style("tf_keras_saved_model", "tf_keras", _save_tf_keras_tf),
)
BY_NAME = {s.name: s for s in STYLES}
