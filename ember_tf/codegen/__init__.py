"""DLC -> DAE ISA lowering: resource mapping onto the target's traversal units,
streams, lanes, layers and registers, emitted as `.dasm` and assembled into
kernels of the `.daebin` format (`ember_tf.dae_isa`).

`isa_lowering.py` drives `access_lowering.py` (the access configuration),
`select.py` (core instructions) with `registers.py` (register allocation), and
`emit.py` (the kernel text); `target.py` reads the machine descriptions."""
