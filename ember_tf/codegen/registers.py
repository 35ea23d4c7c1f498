"""Register allocation for core code: the register files and their free lists,
liveness (a value lives from its definition to its last use; one defined outside
a loop and used inside lives to the loop's end), which register holds each value
(`home`), the variables' registers, and coalescing a value into the register of
the variable it is stored to. It decides registers, never instructions."""

from __future__ import annotations

import dataclasses

from ember_tf.errors import CompileError
from ember_tf.ir.core import BufferType, FloatType, IndexType, MaskType, Operation, Type, Value, VectorType, walk_op

REGISTER_FILES = {"x": range(2, 32), "f": range(0, 32), "v": range(0, 32), "m": range(0, 8), "b": range(0, 4)}


def register_file(t) -> str:
    if isinstance(t, IndexType):
        return "x"
    if isinstance(t, FloatType):
        return "f"
    if isinstance(t, VectorType):
        return "v"
    if isinstance(t, MaskType):
        return "m"
    if isinstance(t, BufferType):
        return "b"
    raise CompileError(f"no register holds a {t}")


class FreeRegisters:
    """Free lists per register file, lowest number first."""

    def __init__(self) -> None:
        self.free = {k: list(v) for k, v in REGISTER_FILES.items()}

    def take(self, file: str, what: str) -> str:
        if not self.free[file]:
            raise CompileError(f"{what}: the kernel does not fit the target: it needs more than "
                               f"{len(REGISTER_FILES[file])} {file} registers at once")
        return f"{file}{self.free[file].pop(0)}"

    def give(self, register: str) -> None:
        file, number = register[0], int(register[1:])
        self.free[file].append(number)
        self.free[file].sort()


# ---- liveness -------------------------------------------------------------------

@dataclasses.dataclass
class LastUse:
    position: dict[int, int]      # id(op) -> position
    last: dict[int, int]          # value uid -> position of its last use (loop-extended)


def last_uses(ops: list[Operation]) -> LastUse:
    """Positions of the ops (pre-order) and the last use of every value defined
    under `ops`; a use inside a loop of a value defined outside it counts at the
    loop's end, and a loop's induction value is used at its end."""
    position, end, defined, uses = {}, {}, {}, []
    counter = 0

    def visit(block_ops, loops):
        nonlocal counter
        for op in block_ops:
            here = counter
            counter += 1
            position[id(op)] = here
            inner = loops + [op] if op.regions else loops
            for v in op.operands:
                uses.append((v.uid, here, inner if op.name == "scf.for" else loops))
                if op.name == "arith.div_no_nan" and v.owner is not None and v.owner.name == "vector.broadcast":
                    uses.append((v.owner.operands[0].uid, here, loops))   # read directly (select: div_no_nan)
            for r in op.results:
                defined[r.uid] = here
            for region in op.regions:
                for a in region.args:
                    defined[a.uid] = here
                visit(region.ops, inner)
            end[id(op)] = counter
            if op.name == "scf.for":
                uses.append((op.body.args[0].uid, counter, loops))

    visit(ops, [])
    return LastUse(position, _extend(uses, defined, position, end))


def _extend(uses: list, defined: dict[int, int], position: dict[int, int], end: dict[int, int]) -> dict[int, int]:
    """Each value's last use, a use in a loop it is not defined in moved to the loop's end."""
    last: dict[int, int] = {}
    for uid, here, loops in uses:
        d = defined.get(uid)
        if d is None:
            continue
        at = here
        for loop in loops:
            if not position[id(loop)] <= d < end[id(loop)]:
                at = max(at, end[id(loop)])
                break
        last[uid] = max(last.get(uid, -1), at)
    for uid, d in defined.items():
        last.setdefault(uid, d)
    return last


# ---- coalescing -----------------------------------------------------------------

def blocks_and_use_counts(ops: list[Operation]) -> tuple[list[list[Operation]], dict[int, int]]:
    """Every op list under `ops` (the top one first) and how often each value is used."""
    use_count: dict[int, int] = {}
    blocks = [ops]
    for op in [o for top in ops for o in walk_op(top)]:
        for v in op.operands:
            use_count[v.uid] = use_count.get(v.uid, 0) + 1
        blocks += [r.ops for r in op.regions]
    return blocks, use_count


def coalesced_values(ops: list[Operation], var_home: dict[str, str]) -> dict[int, str]:
    """Values computed only to be stored into a variable by the very next op:
    value uid -> the variable's name (its register is looked up when the value is
    defined), so the value is computed in the variable's register (no copy)."""
    blocks, use_count = blocks_and_use_counts(ops)
    declared = set(var_home) | {o.attrs["name"] for top in ops for o in walk_op(top) if o.name == "var.decl"}
    coalesce = {}
    for block in blocks:
        for first, second in zip(block, block[1:]):
            if second.name == "var.set" and len(first.results) == 1 and first.results[0] is second.operands[0] \
                    and use_count.get(first.results[0].uid) == 1 and second.attrs["var"] in declared:
                coalesce[first.results[0].uid] = second.attrs["var"]
    return coalesce


# ---- the allocator --------------------------------------------------------------

class Allocator:
    """The register of every value: `home` (for the whole kernel), `live` (the
    values of the current region whose registers go back at their last use),
    `var_home` (a variable's register, for the whole kernel). Registers of
    `pinned` values (prologue values the cases read) and of variables are never
    given back."""

    def __init__(self, func_name: str):
        self.func_name = func_name
        self.regs = FreeRegisters()
        self.home: dict[int, str] = {}
        self.var_home: dict[str, str] = {}
        self.last_use = LastUse({}, {})
        self.coalesce: dict[int, str] = {}
        self.pinned: set[int] = set()
        self.live: dict[int, str] = {}

    # ---- regions ------------------------------------------------------------------
    def begin_region(self, ops: list[Operation], pinned: set[int]) -> None:
        self.last_use = last_uses(ops)
        self.coalesce = coalesced_values(ops, self.var_home)
        self.pinned = set(pinned)
        self.live = {}

    def end_region(self) -> None:
        for uid in list(self.live):
            self._release(uid)

    def after(self, op: Operation) -> None:
        """Free the registers of the values whose last use is `op`."""
        position = self.last_use.position[id(op)]
        for uid in [u for u in self.live if self.last_use.last.get(u, -1) <= position]:
            self._release(uid)

    def _release(self, uid: int) -> None:
        register = self.live.pop(uid)
        if uid not in self.pinned and register not in self.var_home.values():
            self.regs.give(register)

    # ---- values ---------------------------------------------------------------------
    def define(self, value: Value) -> str:
        """The register `value` is computed into."""
        if value.uid in self.coalesce:           # computed straight into the variable it is stored to
            register = self.var_home[self.coalesce[value.uid]]
            self.home[value.uid] = register
            return register
        register = self.regs.take(register_file(value.type), f"{self.func_name}: {value.hint or 'a value'}")
        self.home[value.uid] = register
        self.live[value.uid] = register
        return register

    def lookup(self, value: Value) -> str | None:
        return self.home.get(value.uid)

    def invariant(self, value: Value) -> str:
        """A register for the whole run (a constant or a dim)."""
        register = self.regs.take(register_file(value.type), value.hint)
        self.home[value.uid] = register
        return register

    def alias(self, value: Value, register: str, live: bool) -> None:
        """`value` lives in an existing register (a variable's, a constant mask's)."""
        self.home[value.uid] = register
        if live:
            self.live[value.uid] = register

    def variable(self, name: str, type: Type) -> str:
        register = self.regs.take(register_file(type), f"variable {name}")
        self.var_home[name] = register
        return register

    def read_after(self, register: str, op: Operation) -> bool:
        """Whether a value in `register` is still read after `op`."""
        here = self.last_use.position[id(op)]
        return any(r == register and self.last_use.last.get(uid, -1) > here for uid, r in self.live.items())

    # ---- temporaries ------------------------------------------------------------
    def take(self, file: str, what: str) -> str:
        return self.regs.take(file, what)

    def give(self, register: str) -> None:
        self.regs.give(register)
