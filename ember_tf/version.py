"""Version numbers the package, the file format and the runtime agree on."""

__version__ = "0.1.0"

# Major version of schema/dae.fbs; Model.version in every file we write.
SCHEMA_VERSION = 1
# Highest Kernel.version this runtime executes.
KERNEL_VERSION = 1
# Written as the min_runtime_version metadata entry; a reader refuses files
# whose min_runtime_version is newer than RUNTIME_VERSION.
RUNTIME_VERSION = (0, 1, 0)
