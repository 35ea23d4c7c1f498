"""Compile kernels: the pass pipeline (`ember_tf.passes`) then the ISA lowering
(`ember_tf.codegen`), giving `.dasm` kernel text or a ready `.daebin` model."""

from __future__ import annotations

import dataclasses
from typing import TextIO

from ember_tf import dae_isa
from ember_tf.codegen.isa_lowering import KernelLowering
from ember_tf.codegen.target import Target
from ember_tf.ir.core import Func, TensorType, copy_func, dtype_name
from ember_tf.passes.manager import PassManager

@dataclasses.dataclass(frozen=True)
class CompileOptions:
    target: str = "tmu"
    opt_level: int = 3
    print_ir_after: tuple[str, ...] = ()
    disable_pass: tuple[str, ...] = ()
    # What the planner decides per kernel (ember_tf/planner): the cores it is split over (0: all
    # of the target's), where its read-only slots live (slot name -> "scratchpad" | "buffer" |
    # "hot" | "hot:N", the machine's hot-row storage holding the whole slot or its first N rows:
    # docs/HOT_ROWS.md), and whether the access unit gathers (False: the core loads the rows itself).
    cores: int = 0
    placements: tuple[tuple[str, str], ...] = ()
    access_unit: bool = True


def compile_kernel(func: Func, options: CompileOptions = CompileOptions(), out: TextIO | None = None) -> str:
    """The `.kernel ... .end` text of `func` compiled for the options' target.
    `func` is not modified (the passes work on a copy)."""
    target = Target.from_machine(options.target)
    target = dataclasses.replace(target, cores=options.cores or target.cores,
                                 has_access_unit=target.has_access_unit and options.access_unit)
    work = copy_func(func)
    PassManager(target, options.opt_level, options.print_ir_after, options.disable_pass, out).run(work)
    return KernelLowering(work, target, dict(options.placements)).kernel_text()


def kernel_model_text(func: Func, options: CompileOptions = CompileOptions(), signature: str = "serving_default",
                      out: TextIO | None = None) -> str:
    """A whole `.dasm` model around one compiled kernel: one tensor per argument
    (run-time dims as -1), one operator, one signature named by the arguments."""
    lines = [f'.model version=1 description="{func.name}: compiled by ember-tf at O{options.opt_level} '
             f'for {options.target}"']
    inputs = [i for i in range(len(func.args)) if i not in func.outputs]
    order = inputs + list(func.outputs)
    for n, i in enumerate(order):
        t: TensorType = func.args[i].type
        shape = [1 if d is None else d for d in t.shape]
        sig = [-1 if d is None else d for d in t.shape]
        lines.append(f'.tensor {n} "{func.arg_names[i]}" dtype={dtype_name(t.dtype)} shape={shape} signature={sig}')
    lines.append(compile_kernel(func, options, out).rstrip("\n"))
    ins = list(range(len(inputs)))
    outs = list(range(len(inputs), len(order)))
    lines.append(f'.subgraph "main" inputs={ins} outputs={outs}')
    lines.append(f".operator kernel 0 inputs={ins} outputs={outs}")
    lines.append(f'.signature "{signature}" subgraph=0')
    lines += [f'.input "{func.arg_names[order[n]]}" {n}' for n in ins]
    lines += [f'.output "{func.arg_names[order[n]]}" {n}' for n in outs]
    return "\n".join(lines) + "\n"


def compile_model(func: Func, options: CompileOptions = CompileOptions(), out: TextIO | None = None) -> bytes:
    """`.daebin` bytes of a model holding one compiled kernel."""
    text = kernel_model_text(func, options, out=out)
    return dae_isa.serialize_model(dae_isa.assemble(text, f"<compiled {func.name}>"))
