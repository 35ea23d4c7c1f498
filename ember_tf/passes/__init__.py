"""Ember's optimization pipeline over the SLC IR, one pass per file, and the
SLC -> DLC conversion: decoupling, vectorize (O1), bufferize (O2), queue_align,
simplify_mem and promote_accumulators (O3), slc_to_dlc; `manager.py` runs them
by opt level with print_ir_after / disable_pass."""
