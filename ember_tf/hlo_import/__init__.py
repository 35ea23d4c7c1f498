"""HLO import: XLA HLO modules (text from TF or JAX, or serialized HloModuleProto)
flattened, their embedding work (row gathers, bags, segment sums) rewritten into
DAE kernels, and the rest cut into HLO host segments that the emulator's numpy
evaluator runs. `HloConverter.from_file(path, params_path)` ... `.convert()`."""

from ember_tf.hlo_import.converter import HloConverter, load_module, load_params

__all__ = ["HloConverter", "load_module", "load_params"]
