"""The HLO language, below both its users: an in-memory module (`module`), the text
parser and printer for TF's long form and JAX's short form (`text`), the reader of
serialized HloModuleProto (`proto`), and a numpy evaluator with one small file per
opcode (`evaluator/`). `hlo_import` rewrites modules into kernels; the emulator runs
the residual module of an HLO host segment with the evaluator."""

from ember_tf.hlo.module import Computation, Instruction, Module, Shape
from ember_tf.hlo.text import parse_module, print_module

__all__ = ["Computation", "Instruction", "Module", "Shape", "parse_module", "print_module"]
