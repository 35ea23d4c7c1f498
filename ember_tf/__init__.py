"""ember-tf: compile the embedding operations of TensorFlow and XLA models for a
Decoupled Access-Execute machine and write them as .daebin FlatBuffers.

Public entry points live here; everything else is an implementation module.
"""

from ember_tf.compiler import CompileOptions
from ember_tf.converter import Converter
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError
from ember_tf.version import __version__

__all__ = ["CompileOptions", "Converter", "EmberError", "Interpreter", "__version__"]
