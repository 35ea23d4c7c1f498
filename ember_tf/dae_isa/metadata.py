"""Names of the .daebin metadata entries that more than one layer reads, and a reader
for the JSON ones."""

from __future__ import annotations

import json

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.writer import buffer_bytes

# signature key -> {SignatureDef input key -> npz component name} (TF Serving request keys)
INPUT_KEYS_METADATA = "signature_input_keys"


def metadata_json(model: fb.ModelT, name: str):
    """The JSON value of metadata entry `name`, or None when the model has none."""
    entry = next((m for m in model.metadata or [] if m.name == name), None)
    if entry is None:
        return None
    return json.loads(bytes(buffer_bytes(model.buffers[entry.buffer])).decode())
