"""TensorFlow, imported once and on demand (models without host segments and the
assembler never pay for it), with its import-time C++ log lines kept off stderr:
the CLI promises a single line there when something goes wrong."""

from __future__ import annotations

import os

from ember_tf.errors import EmberError

_module = None


def tensorflow(purpose: str = "this"):
    """The tensorflow module; EmberError naming `purpose` when it is not installed."""
    global _module
    if _module is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            import tensorflow as tf
        except ImportError:
            tf = None
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)
        _module = tf
    if _module is None:
        raise EmberError(f"{purpose} needs TensorFlow (pip install tensorflow)")
    return _module
