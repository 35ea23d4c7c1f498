"""The instruction-level emulator: decodes a .daebin's kernels and runs them on a
modelled DAE machine (or the CPU baseline), giving TensorFlow-equal outputs and
cycles, bandwidth and stall figures from a timing model of that machine."""

from ember_tf.emulator.interpreter import Interpreter, SignatureRunner
from ember_tf.emulator.row_cache import RowCacheConfig
from ember_tf.machines import MachineConfig, load_machine
from ember_tf.emulator.stats import RunStats

__all__ = ["Interpreter", "MachineConfig", "RowCacheConfig", "RunStats", "SignatureRunner", "load_machine"]
