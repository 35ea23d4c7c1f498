"""Emission: the `.kernel ... .end` text of one lowered function. Owns what the
directives list and the code refers to by number: the tensor slots (inputs
first, then outputs), the params (a slot's dim or element plus a constant, or
the copy index), the integer and float constant pools, the labels, the lines of
core code, and the kernel version those need. Access lowering and instruction
selection append to it; nothing here decides what to emit."""

from __future__ import annotations

from ember_tf.codegen.target import Target
from ember_tf.ir.core import Func, SizeOf, TensorType, Value, dtype_name

COPY = "copy"   # the axis of the param key (slot -1) of a kernel.copy_index


class KernelText:
    """The pools, the code lines and the text around them."""

    def __init__(self, func: Func, target: Target, placements: dict[str, str] | None = None):
        self.func, self.target = func, target
        self.placements = placements or {}       # read-only slot name -> CompileOptions.placements' values
        inputs = [i for i in range(len(func.args)) if i not in func.outputs]
        self.slot_order = inputs + list(func.outputs)
        self.slot_of = {func.args[i].uid: n for n, i in enumerate(self.slot_order)}
        self.params: list[tuple[int, object, int]] = []   # (slot, axis | ("element", i) | COPY, add)
        self.consts: list[int] = []
        self.fconsts: list[float] = []
        self.lines: list[str] = []
        self.labels = 0
        self.copies = 1                            # kernel.copy_index {copies}: one copy per core

    # ---- names and pools ----------------------------------------------------
    def slot(self, tensor: Value) -> str:
        return self.func.arg_names[self.func.arg_index(tensor)]

    def param(self, slot: int, axis, add: int = 0) -> int:
        key = (slot, axis, add)
        if key not in self.params:
            self.params.append(key)
        return self.params.index(key)

    def size_param(self, size: SizeOf) -> int:
        """The param holding a run-time size of an output (a dim or an element of an input)."""
        slot = self.slot_of[self.func.args[size.arg].uid]
        if size.element is not None:
            return self.param(slot, ("element", size.element), size.add)
        return self.param(slot, size.axis, size.add)

    def const(self, value: int) -> int:
        if value not in self.consts:
            self.consts.append(value)
        return self.consts.index(value)

    def fconst(self, value: float) -> int:
        if value not in self.fconsts:
            self.fconsts.append(value)
        return self.fconsts.index(value)

    # ---- code -------------------------------------------------------------------
    def label(self, stem: str) -> str:
        self.labels += 1
        return f"{stem}{self.labels}"

    def emit(self, text: str) -> None:
        self.lines.append(f"        {text}")

    def place(self, label: str) -> None:
        self.lines.append(f"{label}:")

    # ---- the whole block ----------------------------------------------------
    def render(self, access_words: list[str], table: list[str] | None, version: int) -> str:
        """The kernel: header, slots, params, pools, jump table, access words, code."""
        out = self._slot_lines()
        out += self._param_lines()
        version, copies = self._version(version)
        out[:0] = [f'.kernel "{self.func.name}" version={version}{copies}', self.target.machine_directive()]
        out += [f".const k{n} {v}" for n, v in enumerate(self.consts)]
        out += [f".fconst kf{n} {float(v).hex()}" for n, v in enumerate(self.fconsts)]
        if table:
            out.append(f".jumptable jt0 {' '.join(table)}")
        if access_words:
            out.append(".access")
            out += [f"  {w}" for w in access_words]
        out.append(".execute")
        out += self.lines
        out.append(".end")
        return "\n".join(out) + "\n"

    def _slot_lines(self) -> list[str]:
        """One `.slot` per argument; an output's run-time dims name the params that size it."""
        func, out = self.func, []
        for i in self.slot_order:
            t: TensorType = func.args[i].type
            access = "write" if i in func.outputs else "read"
            line = f".slot {func.arg_names[i]} {dtype_name(t.dtype)} {access} rank={t.rank}"
            if func.arg_names[i] in self.placements and i not in func.outputs:
                place, _, hot_rows = self.placements[func.arg_names[i]].partition(":")
                line += f" place={place}" + (f" hot_rows={hot_rows}" if hot_rows else "")
            if i in func.outputs:
                dims = []
                for static, size in zip(t.shape, t.dim_of or (None,) * t.rank):
                    dims.append(str(static) if size is None else f"p{self.size_param(size)}")
                line += f" shape=[{', '.join(dims)}]"
            out.append(line)
        return out

    def _param_lines(self) -> list[str]:
        out = []
        for n, (slot, axis, add) in enumerate(self.params):
            if axis == COPY:
                out.append(f".param p{n} copy")
                continue
            what = f"element={axis[1]}" if isinstance(axis, tuple) else f"dim={axis}"
            out.append(f".param p{n} slot={self.func.arg_names[self.slot_order[slot]]} {what} add={add}")
        return out

    def _version(self, version: int) -> tuple[int, str]:
        """The kernel version the params and copies need, and the `copies=` suffix."""
        if any(isinstance(axis, tuple) for _, axis, _ in self.params):
            version = max(version, 2)            # element params need kernel version 2 (dae_isa verifier)
        if self.copies > 1:
            return max(version, 3), f" copies={self.copies}"   # copies need kernel version 3
        return version, ""
