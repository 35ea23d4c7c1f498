"""TF Serving integration: attach a compiled program to a SavedModel's
`assets.extra/` atomically, export versioned serving directories without a
half-written version ever becoming visible, refuse a program stale against its
SavedModel, and read / write / replay warmup requests (`PredictionLog` TFRecords)."""

from ember_tf.serving.attach import ATTACHED_NAME, attach, attached_path, check_fingerprint, load_attached
from ember_tf.serving.publish import export
from ember_tf.serving.warmup import (
    WARMUP_FILE,
    WarmupRequest,
    read_warmup_requests,
    replay,
    write_warmup_requests,
)

__all__ = [
    "ATTACHED_NAME",
    "WARMUP_FILE",
    "WarmupRequest",
    "attach",
    "attached_path",
    "check_fingerprint",
    "export",
    "load_attached",
    "read_warmup_requests",
    "replay",
    "write_warmup_requests",
]
