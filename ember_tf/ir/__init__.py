"""The compiler's IRs: the structured-loop input (scf level), SLC (structured
lookup-compute: access loops whose induction values are streams, core work in
callbacks) and DLC (decoupled: an access-unit configuration plus a compute loop
of callback cases), sharing one generic operation form declared in one table
(`ops.OPS`); text printer, verifier and a builder for the embedding operations."""

from ember_tf.ir.builder import Builder
from ember_tf.ir.core import Func
from ember_tf.ir.ops import OPS
from ember_tf.ir.printer import print_func
from ember_tf.ir.verifier import verify

__all__ = ["OPS", "Builder", "Func", "print_func", "verify"]
