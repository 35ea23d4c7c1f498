"""The residual host graph: what the rewriters left, cut into GraphDef segments
that run between the kernels.

Only what the signature outputs need is kept (grappler's model pruner): a
rewritten bag leaves its Unique and gathers dead. Variables the host still reads
become Const nodes (ReadVariableOp → Const, a leftover ResourceGather → GatherV2
of a Const), read from the checkpoint. Each node gets a level: the number of
kernel launches it must wait for. Level k's nodes form host segment k, which runs
after the kernels of level k - 1 and before those of level k. Nodes without
inputs (Const) are copied into every segment that reads them instead of being
passed around. Control edges survive only where they order something that has
an effect (an Assert); edges that merely order variable reads are dropped."""

from __future__ import annotations

import dataclasses

from ember_tf.errors import ConversionError
from ember_tf.frontend.rewrite import Rewritten
from ember_tf.frontend.schedule import HostStep, KernelStep, assign_levels, interleave, live_values
from ember_tf.grappler_like.flat_graph import FlatGraph, TensorInfo, referenced_functions
from ember_tf.grappler_like.saved_model import Variable

# Ops whose completion orders nothing: a control edge from one of them can go.
_PURE = frozenset(("Const", "Placeholder", "ReadVariableOp", "ResourceGather", "VarHandleOp"))


@dataclasses.dataclass
class Plan:
    steps: list[HostStep | KernelStep]   # a HostStep's program is a tf.compat.v1.GraphDef
    outputs: dict[str, str]            # signature output -> tensor
    inputs: dict[str, str]             # npz component -> tensor
    tensor_info: dict[str, TensorInfo]  # every tensor crossing a step boundary


def plan(graph: FlatGraph, rewritten: Rewritten) -> Plan:
    planner = _Planner(graph, rewritten)
    return planner.build()


class _Planner:
    def __init__(self, graph: FlatGraph, rewritten: Rewritten):
        self.graph, self.rewritten = graph, rewritten
        self.nodes = {n.name: n for n in graph.graph_def.node}
        # a kernel output is a Placeholder node (FlatGraph.record)
        self.kernel_of = {_node_of(t): k for k, call in enumerate(rewritten.calls) for t in call.outputs}
        self._effects: dict[str, bool] = {}

    # -- liveness ---------------------------------------------------------------------

    def _data_inputs(self, node) -> list[str]:
        return [e for e in node.input if not e.startswith("^")]

    def _control_inputs(self, node) -> list[str]:
        return [e[1:] for e in node.input if e.startswith("^") and self._has_effect(e[1:])]

    def _has_effect(self, name: str) -> bool:
        """Does ordering after node `name` matter (it is, or waits for, an effect)?"""
        if name not in self._effects:
            self._effects[name] = False   # cycles (none in a valid graph) end here
            node = self.nodes[name]
            if node.op in _PURE:
                effect = False
            elif node.op in ("Identity", "NoOp"):
                effect = any(self._has_effect(_node_of(e)) for e in node.input)
            else:
                effect = True
            self._effects[name] = effect
        return self._effects[name]

    def _preds(self, name: str) -> list[str]:
        """Nodes that must run before `name`; a kernel output waits for the kernel's inputs."""
        if name in self.kernel_of:
            return [_node_of(t) for t in self.rewritten.calls[self.kernel_of[name]].inputs if isinstance(t, str)]
        node = self.nodes[name]
        return [_node_of(e) for e in self._data_inputs(node)] + self._control_inputs(node)

    # -- variables --------------------------------------------------------------------

    def _materialize(self, live: set[str]) -> None:
        """Host reads of variables become constants (only the live ones are read)."""
        from tensorflow.python.framework import tensor_util

        for name in sorted(live):
            node = self.nodes[name]
            for edge in self._data_inputs(node):
                variable = self.graph.variables.get(_node_of(edge))
                if variable is None:
                    continue
                value = self.graph.saved_model.read_variable(variable)
                if node.op == "ReadVariableOp":
                    dtype = node.attr["dtype"].type
                    node.Clear()
                    node.name, node.op = name, "Const"
                    node.attr["dtype"].type = dtype
                    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
                elif node.op == "ResourceGather":
                    self._gather_of_constant(node, value, variable)
                else:
                    raise ConversionError(f"{self.graph.path}: op {node.op} ({name}) uses variable "
                                          f"{variable.name!r}; only reads and gathers of variables are supported")
        live.difference_update(self.graph.variables)

    def _gather_of_constant(self, node, value, variable: Variable) -> None:
        from tensorflow.python.framework import tensor_util

        table = self.graph.graph_def.node.add(name=f"{node.name}/ember_table", op="Const")
        table.attr["dtype"].type = node.attr["dtype"].type
        table.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value))
        axis = self.graph.graph_def.node.add(name=f"{node.name}/ember_axis", op="Const")
        axis.attr["dtype"].type = 3  # DT_INT32
        axis.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(0, dtype=3))
        ids, controls = self._data_inputs(node)[1], [e for e in node.input if e.startswith("^")]
        tindices = node.attr["Tindices"].type
        dtype = node.attr["dtype"].type
        node.op = "GatherV2"
        for attr in list(node.attr):
            del node.attr[attr]
        node.attr["Tparams"].type = dtype
        node.attr["Tindices"].type = tindices
        node.attr["Taxis"].type = 3
        node.attr["batch_dims"].i = 0
        del node.input[:]
        node.input.extend([f"{table.name}:0", ids, f"{axis.name}:0"] + controls)
        self.nodes[table.name], self.nodes[axis.name] = table, axis

    # -- levels and segments ------------------------------------------------------------

    def _forward(self, edge: str) -> str:
        """`edge` read through Identity nodes that order nothing (no host step just to copy)."""
        while True:
            node = self.nodes.get(_node_of(edge))
            if node is None or node.op != "Identity" or self._control_inputs(node):
                return _tensor(edge)
            edge = self._data_inputs(node)[0]

    def _kernel_input(self, edge: str) -> str | Variable:
        """A kernel input read through Identities; a variable's value is bound as the
        variable itself (stored in the .daebin like a table), not read on the host."""
        edge = self._forward(edge)
        node = self.nodes.get(_node_of(edge))
        if node is not None and node.op == "ReadVariableOp":
            variable = self.graph.variables.get(_node_of(self._data_inputs(node)[0]))
            if variable is not None:
                return variable
        return edge

    def build(self) -> Plan:
        self.graph.outputs = {k: self._forward(t) for k, t in self.graph.outputs.items()}
        for call in self.rewritten.calls:
            call.inputs = [self._kernel_input(t) if isinstance(t, str) else t for t in call.inputs]
        self._kernel_reads = {_node_of(t) for call in self.rewritten.calls for t in call.inputs if isinstance(t, str)}
        live = live_values([_node_of(t) for t in self.graph.outputs.values()], self._preds)
        self._materialize(live)
        levels = assign_levels(live, _topological(live, self._preds), self._preds, self.kernel_of)
        hosted = sorted(n for n in live if self._is_host(n) and not self._is_free(n))
        steps = interleave(levels, hosted, lambda name, members: self._segment(name, members, live, levels.kernels),
                           lambda k: KernelStep(self.rewritten.calls[k]))
        info = {}
        for step in steps:
            tensors = step.inputs + step.outputs if isinstance(step, HostStep) else \
                [t for t in step.call.inputs if isinstance(t, str)] + step.call.outputs
            for t in tensors:
                info[t] = self.graph.tensor_info(t)
        for t in list(self.graph.outputs.values()) + [f"{n}:0" for n in self.graph.inputs.values()]:
            info[t] = self.graph.tensor_info(t)
        return Plan(steps, dict(self.graph.outputs), {c: f"{n}:0" for c, n in self.graph.inputs.items()}, info)

    def _is_host(self, name: str) -> bool:
        node = self.nodes[name]
        return node.op != "Placeholder" and name not in self.kernel_of

    def _is_free(self, name: str) -> bool:
        """A node with no inputs that segments copy; one a kernel or the signature reads
        must be made by a segment instead."""
        if name in self.graph.setup_nodes:   # a rebuilt lookup table: each segment makes its own
            return True
        node = self.nodes[name]
        return not self._data_inputs(node) and not self._control_inputs(node) and \
            name not in {_node_of(t) for t in self.graph.outputs.values()} and name not in self._kernel_reads

    def _segment(self, seg_name: str, names: list[str], live, kernels) -> HostStep:
        from tensorflow.core.framework import graph_pb2

        members = set(names)
        needed_later = self._consumed_after(members, live, kernels)
        graph_def = graph_pb2.GraphDef()
        graph_def.versions.CopyFrom(self.graph.graph_def.versions)
        inputs, input_names, free = [], [], set()
        outside: dict[str, str] = {}

        def bind(edge: str) -> str:
            source = _node_of(edge)
            if source in members:
                return edge
            if self._is_host(source) and self._is_free(source):
                free.update(self._free_closure(source))
                return edge
            tensor = _tensor(edge)
            if tensor not in outside:
                placeholder = f"ember_input_{len(outside)}"
                outside[tensor] = f"{placeholder}:0"
                info = self.graph.tensor_info(tensor)
                node = graph_def.node.add(name=placeholder, op="Placeholder")
                node.attr["dtype"].type = _dtype_enum(info.dtype)
                inputs.append(tensor)
                input_names.append(outside[tensor])
            return outside[tensor]

        for name in _topological(members, self._preds):
            node = self.nodes[name]
            copy = graph_def.node.add()
            copy.CopyFrom(node)
            del copy.input[:]
            copy.input.extend(bind(e) for e in self._data_inputs(node))
            copy.input.extend("^" + c for c in self._control_inputs(node) if c in members)
            if "_class" in copy.attr:
                del copy.attr["_class"]
        for name in sorted(free):
            copy = graph_def.node.add()
            copy.CopyFrom(self.nodes[name])
            if name not in self.graph.setup_nodes:
                del copy.input[:]   # a free node's control inputs order nothing
        for function in referenced_functions(graph_def, self.graph.library):
            graph_def.library.function.add().CopyFrom(function)
        outputs = sorted(t for t in needed_later if _node_of(t) in members)
        return HostStep(seg_name, graph_def, inputs, input_names, outputs)

    def _free_closure(self, name: str) -> set[str]:
        """A free node and, for a rebuilt resource, every setup node it reads."""
        found, stack = set(), [name]
        while stack:
            current = stack.pop()
            if current in found:
                continue
            found.add(current)
            if current in self.graph.setup_nodes:
                stack += [_node_of(e.lstrip("^")) for e in self.nodes[current].input]
        return found

    def _consumed_after(self, members: set[str], live, kernels) -> set[str]:
        """Tensors of `members` read by later segments, kernels, or the signature."""
        used = {_tensor(t) for t in self.graph.outputs.values()}
        for k in kernels:
            used |= {_tensor(t) for t in self.rewritten.calls[k].inputs if isinstance(t, str)}
        for name in live:
            if name in members or not self._is_host(name):
                continue
            used |= {_tensor(e) for e in self._data_inputs(self.nodes[name])}
        return used


def _node_of(edge: str) -> str:
    return edge.lstrip("^").split(":")[0]


def _tensor(edge: str) -> str:
    return edge if ":" in edge else f"{edge}:0"


def _dtype_enum(name: str) -> int:
    import tensorflow as tf

    return tf.as_dtype(name).as_datatype_enum


def _topological(members: set[str], preds) -> list[str]:
    order, state = [], {}
    for root in sorted(members):
        stack = [(root, False)]
        while stack:
            name, done = stack.pop()
            if done:
                order.append(name)
                state[name] = 2
                continue
            if state.get(name):
                continue
            state[name] = 1
            stack.append((name, True))
            stack += [(p, False) for p in preds(name) if p in members and not state.get(p)]
    return order
