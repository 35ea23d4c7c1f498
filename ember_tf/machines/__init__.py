"""Machine descriptions, below both the compiler (which lowers a kernel for a target)
and the emulator (which times it): the shipped machines (`tmu`, `cpu`, `gpu`, one
TOML file each, every parameter with its source), any TOML file by path, and
per-parameter overrides."""

from ember_tf.machines._config import MACHINES_DIR, CoreCosts, MachineConfig, load_machine

__all__ = ["MACHINES_DIR", "CoreCosts", "MachineConfig", "load_machine"]
