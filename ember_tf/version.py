"""Version numbers the package, the file format and the runtime agree on."""

__version__ = "0.1.0"

# Major version of schema/dae.fbs; Model.version in every file we write.
SCHEMA_VERSION = 1
# Highest Kernel.version this runtime executes. 2: element-valued params
# (KernelParam.kind = ELEMENT), which a version-1 runtime would misread as dims.
# 3: copies (Kernel.copies, KernelParam.kind = COPY), which a version-2 runtime would run once.
KERNEL_VERSION = 3
# A reader refuses a file whose min_runtime_version metadata entry (a dotted
# version string) is newer than this runtime.
RUNTIME_VERSION = (0, 1, 0)
