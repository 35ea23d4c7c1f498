"""The exception hierarchy: one type per layer, all deriving from EmberError.

The CLI turns an EmberError into a one-line message and exit status 2; any
other exception is a bug and is allowed to show its traceback.
"""


class EmberError(Exception):
    """A problem with the user's input that ember-tf reports in one line."""


class DaebinFormatError(EmberError):
    """A .daebin file is malformed, inconsistent or too new for this runtime."""


class AssemblyError(EmberError):
    """A .dasm source cannot be assembled; the message carries line:column."""


class EmulationError(EmberError):
    """A program faulted (an id out of range, a queue protocol violation) or a
    run was configured wrongly (bad inputs, unknown machine)."""


class MachineError(EmulationError):
    """A machine description cannot be used: an unknown name, an unreadable or malformed
    TOML file, a parameter missing, unknown or out of range. (An EmulationError, as
    the emulator raised it before machines had their own layer.)"""


class InputError(EmulationError):
    """The inputs a run was given are wrong: a missing or extra key, a wrong dtype or
    shape, an id out of range. The CLI names the inputs file; other faults name the model."""


class CompileError(EmberError):
    """A kernel cannot be compiled: an unsupported construct, or it does not fit
    the target machine (too many traversal units, streams or registers)."""


class SavedModelImportError(EmberError):
    """A SavedModel directory cannot be imported: it is missing, its saved_model.pb is
    absent or corrupt, it has no meta graph with the requested tags, a signature key is
    unknown, or a variable's checkpoint cannot be read. The message names the path."""


class ConversionError(EmberError):
    """A SavedModel imports but cannot be converted: an input or output dtype the
    .daebin cannot hold, a variable used by an op other than a read or a gather, a
    tensor whose rank TensorFlow cannot infer. The message names the path."""


class SweepError(EmberError):
    """A sweep cannot start or finish: its spec is malformed (the message names the file and
    the key), a model file is missing, the results cannot be written, or Ray cannot be
    reached. A point that fails is not this: its error is recorded in the results."""
