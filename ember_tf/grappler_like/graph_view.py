"""An indexed, read-only view over a FunctionDef body: nodes by name, the producer of
every data input, the consumers of every output, function arguments and returns.

FunctionDef edges read `node:output_arg:index` (`Unique:idx:0`) or an argument name;
they are resolved to flat output indices with the op's OpDef (from the op registry, or
the callee's signature when the op is a library function). List outputs (`number_attr`,
`type_list_attr`) are sized from the node's attributes. Control inputs (`^node`) are
kept apart from data inputs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ember_tf.errors import SavedModelImportError


@dataclass(frozen=True)
class Tensor:
    """A value in the body: output `index` of node `node`, or the function argument
    `node` when `is_arg` (index 0)."""

    node: str
    index: int = 0
    is_arg: bool = False

    def __str__(self) -> str:
        return self.node if self.is_arg else f"{self.node}:{self.index}"


class GraphView:
    """Index a FunctionDef. `library` (name -> FunctionDef) resolves calls to functions."""

    def __init__(self, function_def, library: dict | None = None, source: str = ""):
        """`source` (the SavedModel path) prefixes the errors a malformed function raises."""
        self.function_def = function_def
        self.name = function_def.signature.name
        self.source = source
        self._library = library or {}
        self.args = [a.name for a in function_def.signature.input_arg]
        self.arg_types = {a.name: a.type for a in function_def.signature.input_arg}
        self.nodes = {n.name: n for n in function_def.node_def}
        self._fanin: dict[str, list[Tensor]] = {}
        self._control: dict[str, list[str]] = {}
        self._consumers: dict[Tensor, list[tuple[str, int]]] = defaultdict(list)
        self._offsets: dict[str, dict[str, int]] = {}
        for node in function_def.node_def:
            data, control = [], []
            for text in node.input:
                if text.startswith("^"):
                    control.append(text[1:])
                    continue
                t = self._resolve(text)
                self._consumers[t].append((node.name, len(data)))
                data.append(t)
            self._fanin[node.name] = data
            self._control[node.name] = control
        self.outputs = {k: self._resolve(v) for k, v in function_def.ret.items()}
        self.control_outputs = dict(function_def.control_ret)

    # -- queries --------------------------------------------------------------------

    def node(self, name: str):
        return self.nodes[name]

    def nodes_by_op(self, op: str) -> list:
        return [n for n in self.function_def.node_def if n.op == op]

    def fanin(self, name: str) -> list[Tensor]:
        """Data inputs of node `name`, in order."""
        return list(self._fanin[name])

    def producer(self, name: str, input_index: int) -> Tensor:
        return self._fanin[name][input_index]

    def control_inputs(self, name: str) -> list[str]:
        return list(self._control[name])

    def consumers(self, tensor: Tensor) -> list[tuple[str, int]]:
        """(node, input index) pairs reading `tensor`; function returns are not included
        (see `outputs` / `is_output`)."""
        return list(self._consumers.get(tensor, ()))

    def fanout(self, name: str) -> dict[int, list[tuple[str, int]]]:
        """Output index -> consumers, for the outputs of node `name` that are read."""
        out: dict[int, list[tuple[str, int]]] = {}
        for t, users in self._consumers.items():
            if not t.is_arg and t.node == name:
                out[t.index] = list(users)
        return dict(sorted(out.items()))

    def is_output(self, tensor: Tensor) -> bool:
        return tensor in self.outputs.values()

    def arg_index(self, name: str) -> int:
        return self.args.index(name)

    # -- edge resolution ------------------------------------------------------------

    def _malformed(self, problem: str) -> SavedModelImportError:
        return SavedModelImportError(f"{self.source}: function {self.name}: {problem}")

    def _resolve(self, text: str) -> Tensor:
        parts = text.split(":")
        if len(parts) == 1:
            if parts[0] in self.arg_types:
                return Tensor(parts[0], 0, is_arg=True)
            return Tensor(parts[0], 0)  # GraphDef-style bare name
        if not parts[-1].isdigit() or len(parts) > 3:
            raise self._malformed(f"edge {text!r} is not node:index or node:output:index")
        if len(parts) == 2:  # GraphDef-style `node:index`
            return Tensor(parts[0], int(parts[1]))
        node, arg, idx = parts[0], parts[1], int(parts[2])
        return Tensor(node, self._output_offset(node, arg) + idx)

    def _output_offset(self, node_name: str, arg: str) -> int:
        offsets = self._offsets.get(node_name)
        if offsets is None:
            offsets = self._offsets[node_name] = self._compute_offsets(node_name)
        if arg not in offsets:
            raise self._malformed(f"node {node_name} has no output {arg!r}")
        return offsets[arg]

    def _compute_offsets(self, node_name: str) -> dict[str, int]:
        node = self.nodes.get(node_name)
        if node is None:
            raise self._malformed(f"an edge comes from unknown node {node_name!r}")
        if node.op in self._library:
            out_args = self._library[node.op].signature.output_arg
        else:
            from tensorflow.python.framework import op_def_registry
            op_def = op_def_registry.get(node.op)
            if op_def is None:
                raise self._malformed(f"op {node.op!r} of {node_name} is not registered")
            out_args = op_def.output_arg
        offsets, pos = {}, 0
        for a in out_args:
            offsets[a.name] = pos
            pos += _arg_size(a, node)
        return offsets


def _arg_size(arg, node) -> int:
    if arg.number_attr:
        return int(node.attr[arg.number_attr].i)
    if arg.type_list_attr:
        return len(node.attr[arg.type_list_attr].list.type)
    return 1
