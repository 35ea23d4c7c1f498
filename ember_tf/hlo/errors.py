"""The HLO language's error for a malformed module: raised by the text parser (with
line:column), the proto reader, the verifier and the attribute accessors. It lives here,
below all of them; `ember_tf.hlo.text.HloParseError` is the same class."""

from ember_tf.errors import EmberError


class HloParseError(EmberError):
    """Malformed HLO: text that does not parse, or a module the verifier rejects (a
    missing or malformed attribute, a wrong operand count, inconsistent shapes, a call
    cycle, an array too large). The message carries the source and line:column when the
    text form knows them, else the computation/instruction."""
