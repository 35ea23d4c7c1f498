"""The DAE instruction set and the .daebin file: opcodes and their encoding,
the .dasm assembler and disassembler, and the verified reader and writer over
the flatc-generated schema code (schema/dae.fbs)."""

from ember_tf.dae_isa.assembler import assemble
from ember_tf.dae_isa.disassembler import disassemble, disassemble_kernel
from ember_tf.dae_isa.encoding import Instruction, Src, decode, encode
from ember_tf.dae_isa.reader import model_from_buffer, read_model
from ember_tf.dae_isa.writer import serialize_model, write_model

__all__ = [
    "Instruction",
    "Src",
    "assemble",
    "decode",
    "disassemble",
    "disassemble_kernel",
    "encode",
    "model_from_buffer",
    "read_model",
    "serialize_model",
    "write_model",
]
