"""DLC -> DAE ISA lowering: resource mapping onto the target's traversal units,
streams, lanes, layers and registers, emitted as `.dasm` and assembled into
kernels of the `.daebin` format (`ember_tf.dae_isa`)."""
