"""SLC -> DLC (Ember's SlcToDlc): the loop nest becomes an access-unit
configuration (`dlc.access`: traversal units, streams, operand and callback
registrations on beg/ite/end events) and a core compute loop (`dlc.compute`:
one `dlc.case` per callback id, `slc.to_val` becoming `dlc.pop_operand`).

A callback inside loop L's body before its child loops fires on (L, ite); one
after child loop C fires on (C, end). Callbacks that fire on the same event are
merged into one case, so one dispatch serves them all."""

from __future__ import annotations

from ember_tf.errors import CompileError
from ember_tf.ir.core import Block, Func, Operation, TuType, Value
from ember_tf.ir.printer import print_ops

STREAM_OPS = ("slc.mem_stream", "slc.alu_stream", "slc.buf_stream")


def run(func: Func, target) -> None:
    if func.level != "slc":
        raise CompileError(f"{func.name}: slc_to_dlc expects the slc level, got {func.level}")
    func.level = "dlc"
    roots = [op for op in func.body.ops if op.name == "slc.for"]
    if not roots:
        return
    converter = _Converter()
    prologue = []
    for op in func.body.ops:
        if op.name == "slc.for":
            converter.loop(op, parent=None)
        elif op.name == "slc.callback":
            raise CompileError(f"{func.name}: a callback outside every access loop")
        else:
            prologue.append(op)
    access = Operation("dlc.access", [], [], {}, [Block(ops=converter.access)])
    cases, ids = [], {}
    for (tu, event), body in converter.cases.items():
        text = print_ops(body)     # the same code on several sites (split_cores' copies): one case
        if text not in ids:
            ids[text] = len(cases) + 1
            cases.append(Operation("dlc.case", [], [], {"id": ids[text], "tu": tu, "event": event},
                                   [Block(ops=body)]))
        converter.access.append(Operation("dlc.register_callback", [converter.tu_values[tu]], [],
                                          {"event": event, "id": ids[text]}))
    compute = Operation("dlc.compute", [], [], {}, [Block(ops=cases)])
    func.body.ops = prologue + [access, compute]
    for op in func.body.ops:
        op.parent = func.body


class _Converter:
    def __init__(self) -> None:
        self.access: list[Operation] = []
        self.tu_values: list[Value] = []
        self.cases: dict[tuple[int, str], list[Operation]] = {}

    def loop(self, loop: Operation, parent: int | None) -> int:
        lb, ub, _ = loop.operands
        iv = loop.body.args[0]
        tu = Value(TuType(), f"tu{len(self.tu_values)}")
        index = len(self.tu_values)
        self.tu_values.append(tu)
        width = loop.attrs.get("width", 1)
        self.access.append(Operation("dlc.new_tu", [lb, ub], [tu, iv], {"parent": parent, "width": width}))
        last_child = None
        for op in loop.body.ops:
            if op.name in STREAM_OPS:
                op.attrs["tu"] = index
                self.access.append(op)
            elif op.name == "slc.for":
                last_child = self.loop(op, index)
            elif op.name == "slc.callback":
                site = (index, "ite") if op.attrs["event"] == "ite" else (last_child, "end")
                if site[0] is None:
                    raise CompileError("an end callback with no loop before it")
                self._callback(op, site)
            elif op.name in ("arith.constant", "tensor.dim"):
                self.access.append(op)
            else:
                raise CompileError(f"{op.name} left in an access loop after decoupling")
        return index

    def _callback(self, callback: Operation, site: tuple[int, str]) -> None:
        body = self.cases.setdefault(site, [])
        tu = self.tu_values[site[0]]
        for op in callback.body.ops:
            if op.name == "slc.to_val":
                self.access.append(Operation("dlc.register_operand", [tu, op.operands[0]], [],
                                             {"event": site[1]}))
                op.name = "dlc.pop_operand"
                op.operands = []
            body.append(op)
