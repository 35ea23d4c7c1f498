"""A signature's body as one flat GraphDef the rewriters work on: every nested
function call inlined (grappler's function_optimizer), GraphDef-style edges
(`node:index`), one Placeholder per signature input named after its npz component,
one DT_RESOURCE Placeholder per captured variable, and the signature outputs
named. Static dtypes and shapes come from importing it into a tf.Graph (shape
inference only; nothing runs)."""

from __future__ import annotations

import dataclasses
from typing import Iterator

import numpy as np

from ember_tf.errors import SavedModelImportError
from ember_tf.frontend.rewrite import KernelCall, Site
from ember_tf.grappler_like.graph_view import GraphView, Tensor
from ember_tf.grappler_like.pattern import match_all
from ember_tf.grappler_like.saved_model import CapturedResource, SavedModelGraph, Signature, Variable
from ember_tf.ir.core import dtype_name

KERNEL_PREFIX = "ember_kernel"   # kernel outputs are Placeholders named ember_kernel_<call>/<output>

CALL_OPS = ("StatefulPartitionedCall", "PartitionedCall")
_RESOURCE = 20  # types_pb2.DT_RESOURCE


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    dtype: str                          # numpy dtype name, or "resource", "string", ...
    shape: tuple[int | None, ...] | None  # None: unknown rank


class FlatGraph:
    """The mutable working graph of one signature (see the module docstring)."""

    def __init__(self, saved_model: SavedModelGraph, signature: Signature):
        from tensorflow.core.framework import graph_pb2

        self.saved_model = saved_model
        self.signature = signature
        self.path = saved_model.path
        body = saved_model.functions[signature.function_name]
        self.library = dict(saved_model.functions)   # plus the functions splice() brings
        self.graph_def = graph_pb2.GraphDef()
        # The producer version decides semantics (before 21 a Placeholder's scalar shape meant "unknown").
        self.graph_def.versions.CopyFrom(saved_model.graph_def.versions)
        self.inputs: dict[str, str] = {}          # npz component name -> Placeholder node
        self.variables: dict[str, Variable] = {}  # resource Placeholder node -> variable
        resources = saved_model.resource_inputs(signature.function_name)
        constants = saved_model.captured_constants(signature.function_name)
        captured = saved_model.captured_resources(signature.function_name)
        self.setup_nodes: set[str] = set()   # nodes rebuilding captured resources (copied into each segment)
        arg_edges = {}
        for i, arg in enumerate(body.signature.input_arg):
            node = self.graph_def.node.add(name=arg.name, op="Placeholder")
            node.attr["dtype"].type = arg.type
            arg_edges[arg.name] = f"{arg.name}:0"
            if arg.type == _RESOURCE and i in resources:
                self.variables[arg.name] = resources[i]
            elif arg.type == _RESOURCE:
                resource = captured.get(i, "it is neither a variable nor a resource of the object graph")
                if isinstance(resource, str):
                    raise SavedModelImportError(
                        f"{self.path}: captured input {arg.name!r} of {body.signature.name} cannot be rebuilt: "
                        f"{resource}")
                self._rebuild_resource(node, resource)
            elif i in signature.body_inputs:
                component = signature.body_inputs[i]
                self.inputs[component] = arg.name
                spec = _component_spec(signature, component)
                if spec is not None and spec.shape is not None:
                    _set_shape(node.attr["shape"].shape, spec.shape)
            elif i in constants:   # a captured eager tensor
                node.op = "Const"
                node.attr["value"].tensor.CopyFrom(constants[i])
            else:
                raise SavedModelImportError(
                    f"{self.path}: input {arg.name!r} of {body.signature.name} matches no signature input")
        rets = _Inliner(self.library, self.graph_def, self.path).inline(body, arg_edges, prefix="")
        self.outputs = {name: rets[arg] for name, arg in signature.body_outputs.items()}
        missing = set(signature.outputs) - set(self.outputs)
        if missing:
            raise SavedModelImportError(
                f"{self.path}: signature {signature.key!r} output(s) {', '.join(sorted(missing))} "
                f"are not outputs of its body function")
        self._types: dict[str, TensorInfo] | None = None
        self._index: dict = {}
        self._counter = 0

    def _rebuild_resource(self, node, resource: CapturedResource) -> None:
        """Turns the resource's Placeholder into the table TensorFlow builds at load time:
        `node` becomes Identity(handle) after the table is filled. What the initializer
        puts in (from tensors or a vocabulary file) is computed now, by TensorFlow, and
        imported from constants at every run, so the .daebin needs no file. A mutable
        table's contents come from the checkpoint instead."""
        from tensorflow.python.framework import tensor_util

        before = len(self.graph_def.node)
        creator = self.library[resource.creator]
        handle = next(iter(_Inliner(self.library, self.graph_def, self.path).inline(
            creator, {}, prefix=f"{node.name}/create/").values()))
        controls = []
        if resource.checkpoint_keys is not None or resource.initializer is not None:
            keys, values = ([self.saved_model.read_checkpoint(k) for k in resource.checkpoint_keys]
                            if resource.checkpoint_keys else self._table_contents(resource))
            fill = self.graph_def.node.add(name=f"{node.name}/fill", op="LookupTableImportV2")
            fill.input.append(handle)
            for label, attr, array in (("keys", "Tin", keys), ("values", "Tout", values)):
                proto = tensor_util.make_tensor_proto(array)
                const = self.graph_def.node.add(name=f"{node.name}/{label}", op="Const")
                const.attr["dtype"].type = fill.attr[attr].type = proto.dtype
                const.attr["value"].tensor.CopyFrom(proto)
                fill.input.append(f"{const.name}:0")
            controls = [f"^{fill.name}"]
        self.setup_nodes.update(n.name for n in self.graph_def.node[before:])
        node.op = "Identity"
        del node.attr["dtype"]
        node.attr["T"].type = _RESOURCE
        node.input.extend([handle] + controls)
        self.setup_nodes.add(node.name)

    def _table_contents(self, resource: CapturedResource):
        """Runs the resource's creator and initializer in TensorFlow and exports the table."""
        import tensorflow as tf
        from tensorflow.core.framework import graph_pb2

        scratch = graph_pb2.GraphDef()
        inliner = _Inliner(self.library, scratch, self.path)
        handle = next(iter(inliner.inline(self.library[resource.creator], {}, prefix="create/").values()))
        initializer = self.library[resource.initializer]
        edges = {}
        for index, value in resource.initializer_captures.items():
            arg = initializer.signature.input_arg[index]
            if value is None:
                edges[arg.name] = handle
                continue
            const = scratch.node.add(name=f"capture_{index}", op="Const")
            const.attr["dtype"].type = value.dtype
            const.attr["value"].tensor.CopyFrom(value)
            edges[arg.name] = f"{const.name}:0"
        start = len(scratch.node)
        inliner.inline(initializer, edges, prefix="init/")
        init_ops = [n.name for n in scratch.node[start:]]
        for function in referenced_functions(scratch, self.library):
            scratch.library.function.add().CopyFrom(function)
        table = next(n for n in scratch.node if "key_dtype" in n.attr)
        with tf.Graph().as_default() as graph:
            try:
                tf.graph_util.import_graph_def(scratch, name="")
                keys, values = tf.raw_ops.LookupTableExportV2(
                    table_handle=graph.get_tensor_by_name(handle), Tkeys=table.attr["key_dtype"].type,
                    Tvalues=table.attr["value_dtype"].type)
                with tf.compat.v1.Session(graph=graph) as session:
                    session.run([graph.get_operation_by_name(n) for n in init_ops])
                    return session.run([keys, values])
            except (ValueError, KeyError, StopIteration, tf.errors.OpError) as e:
                raise SavedModelImportError(f"{self.path}: cannot fill table {resource.name!r} as TensorFlow "
                                            f"does at load time ({_first_line(e)})") from None

    # -- queries ------------------------------------------------------------------------

    def view(self) -> GraphView:
        from tensorflow.core.framework import function_pb2

        fdef = function_pb2.FunctionDef()
        fdef.signature.name = self.signature.function_name
        fdef.node_def.extend(self.graph_def.node)
        for name, edge in self.outputs.items():
            fdef.ret[name] = edge
        return GraphView(fdef, {}, self.path)

    def sites(self, rewriter) -> Iterator[Site]:
        """Where `rewriter`'s pattern matches the graph as it is now (its anchor node)."""
        for match in match_all(self.view(), rewriter.pattern):
            anchor = match.node(rewriter.anchor)
            yield Site(anchor.name, anchor.op, match)

    def node(self, name: str):
        # edits only add nodes, so a stale index is one with fewer entries than the graph
        if len(self._index) != len(self.graph_def.node):
            self._index = {n.name: n for n in self.graph_def.node}
        return self._index[name]

    def tensor_info(self, tensor: Tensor | str) -> TensorInfo:
        """Static dtype and shape of a tensor, from TensorFlow's shape inference."""
        if self._types is None:
            self._types = self._infer()
        return self._types[str(tensor) if ":" in str(tensor) else f"{tensor}:0"]

    def constant_value(self, tensor: Tensor) -> np.ndarray | None:
        """The value of a Const node's output (through Identities), else None."""
        from tensorflow.python.framework import tensor_util

        node = self.node(tensor.node)
        while node.op == "Identity":
            node = self.node(node.input[0].split(":")[0])
        if node.op != "Const":
            return None
        return tensor_util.MakeNdarray(node.attr["value"].tensor)

    # -- edits ----------------------------------------------------------------------------

    def unique_name(self, base: str) -> str:
        names = {n.name for n in self.graph_def.node}
        while True:
            self._counter += 1
            name = f"{base}_{self._counter}"
            if name not in names:
                return name

    def record(self, call: KernelCall, index: int) -> None:
        """Kernel call `index` replaces its outputs: each becomes a Placeholder the kernel
        fills (`ember_kernel_<index>/<output>`), read by every former user."""
        placeholders = []
        for out, tensor in zip(call.func.outputs, call.outputs):
            arg = call.func.args[out]
            shape = self.tensor_info(tensor).shape
            name = f"{KERNEL_PREFIX}_{index}/{call.func.arg_names[out]}"
            placeholders.append(self.add_placeholder(name, dtype_name(arg.type.dtype),
                                                     shape or (None,) * arg.type.rank))
        for tensor, placeholder in zip(call.outputs, placeholders):
            self.replace_uses(tensor, placeholder)
        call.outputs = placeholders

    def add_placeholder(self, name: str, dtype: str, shape: tuple[int | None, ...]) -> str:
        import tensorflow as tf

        node = self.graph_def.node.add(name=name, op="Placeholder")
        node.attr["dtype"].type = tf.as_dtype(dtype).as_datatype_enum
        _set_shape(node.attr["shape"].shape, shape)
        self._known(f"{name}:0", TensorInfo(dtype, tuple(shape)))
        return f"{name}:0"

    def splice(self, fragment, feeds: dict[str, str], prefix: str, types: dict[str, TensorInfo]) -> None:
        """Adds the nodes of GraphDef `fragment` under `prefix/`, its Placeholders
        named in `feeds` replaced by the given tensors of this graph; `types` gives
        the static type of every fragment tensor (by its name in the fragment)."""
        for function in fragment.library.function:
            self.library.setdefault(function.signature.name, function)
        renamed = {}
        for node in fragment.node:
            if node.name in feeds:
                continue
            renamed[node.name] = f"{prefix}/{node.name}"
        for node in fragment.node:
            if node.name in feeds:
                continue
            copy = self.graph_def.node.add()
            copy.CopyFrom(node)
            copy.name = renamed[node.name]
            del copy.input[:]
            for edge in node.input:
                control = edge.startswith("^")
                source, _, index = edge.lstrip("^").partition(":")
                if source in feeds:
                    target = feeds[source] if not control else "^" + feeds[source].split(":")[0]
                else:
                    target = ("^" if control else "") + renamed[source] + (f":{index}" if index else "")
                copy.input.append(target)
        for name, info in types.items():
            if name.split(":")[0] not in feeds:
                self._known(f"{prefix}/{name}", info)

    def replace_uses(self, old: str, new: str) -> None:
        """Every data input and signature output reading tensor `old` reads `new`."""
        old_forms = {old, old.removesuffix(":0")} if old.endswith(":0") else {old}
        for node in self.graph_def.node:
            for i, edge in enumerate(node.input):
                if edge in old_forms:
                    node.input[i] = new
        for name, edge in self.outputs.items():
            if edge in old_forms:
                self.outputs[name] = new
        # (the readers' static types stay as they were: `new` has the type `old` had)

    # -- internals ----------------------------------------------------------------------

    def _known(self, tensor: str, info: TensorInfo) -> None:
        """Records the type of a tensor an edit added (no need to infer the graph again)."""
        if self._types is not None:
            self._types[tensor] = info

    def _infer(self) -> dict[str, TensorInfo]:
        import tensorflow as tf

        graph_def = self.graph_def.__class__()
        graph_def.CopyFrom(self.graph_def)
        for function in referenced_functions(self.graph_def, self.library):
            graph_def.library.function.add().CopyFrom(function)
        with tf.Graph().as_default() as graph:
            try:
                tf.graph_util.import_graph_def(graph_def, name="")
            except (ValueError, tf.errors.OpError) as e:
                raise SavedModelImportError(f"{self.path}: the body of signature {self.signature.key!r} "
                                            f"does not import ({_first_line(e)})") from None
        types = tensor_types(graph)
        # What the SignatureDef declares outlives shape information a flat graph can lose (a
        # mutable table's value shape lives in its handle); fill an unknown rank from it.
        for name, edge in self.outputs.items():
            declared = self.signature.outputs.get(name)
            info = types.get(edge if ":" in edge else f"{edge}:0")
            if info is not None and info.shape is None and declared is not None and declared.shape is not None:
                types[edge if ":" in edge else f"{edge}:0"] = TensorInfo(info.dtype, declared.shape)
        return types


class _Inliner:
    """Copies a FunctionDef's nodes into a GraphDef, calls to library functions
    replaced by the callee's nodes under `<call node>/`."""

    def __init__(self, library: dict, out, source: str = ""):
        self.library, self.out, self.source = library, out, source

    def inline(self, fdef, arg_edges: dict[str, str], prefix: str) -> dict[str, str]:
        """Returns the function's outputs (output arg -> GraphDef edge)."""
        view = GraphView(fdef, self.library, self.source)
        calls: dict[str, list[str]] = {}

        def edge(t: Tensor) -> str:
            if t.is_arg:
                return arg_edges[t.node]
            if t.node in calls:
                return calls[t.node][t.index]
            return f"{prefix}{t.node}:{t.index}"

        for node in _topological(fdef, view):
            callee = self._callee(node)
            if callee is not None:
                inner_args = {a.name: edge(t) for a, t in zip(callee.signature.input_arg, view.fanin(node.name))}
                rets = self.inline(callee, inner_args, f"{prefix}{node.name}/")
                calls[node.name] = [rets[a.name] for a in callee.signature.output_arg]
                continue
            copy = self.out.node.add()
            copy.CopyFrom(node)
            copy.name = prefix + node.name
            copy.device = ""
            if "_class" in copy.attr:   # colocation with nodes that do not exist here
                del copy.attr["_class"]
            del copy.input[:]
            copy.input.extend(edge(t) for t in view.fanin(node.name))
            copy.input.extend("^" + prefix + c for c in view.control_inputs(node.name) if c not in calls)
        return {name: edge(t) for name, t in view.outputs.items()}

    def _callee(self, node):
        if node.op in CALL_OPS:
            return self.library.get(node.attr["f"].func.name)
        return self.library.get(node.op)


def _topological(fdef, view: GraphView) -> list:
    """Nodes ordered so that every call's inputs come before it."""
    order, state = [], {}
    for root in fdef.node_def:
        stack = [(root.name, False)]
        while stack:
            name, done = stack.pop()
            if done:
                if state.get(name) != 2:
                    state[name] = 2
                    order.append(view.node(name))
                continue
            if state.get(name):
                continue
            state[name] = 1
            stack.append((name, True))
            preds = [t.node for t in view.fanin(name) if not t.is_arg] + view.control_inputs(name)
            stack.extend((p, False) for p in preds if not state.get(p))
    return order


def referenced_functions(graph_def, library: dict) -> list:
    """Library functions the nodes name (as attrs, e.g. If branches), transitively."""
    found: dict[str, object] = {}

    def visit_attrs(attrs):
        for _, value in sorted(attrs.items()):   # a proto map's order varies between processes
            names = [value.func.name] if value.HasField("func") else []
            names += [f.name for f in value.list.func]
            for name in names:
                if name in library and name not in found:
                    found[name] = library[name]
                    for n in library[name].node_def:
                        visit_node(n)

    def visit_node(node):
        if node.op in library and node.op not in found:
            found[node.op] = library[node.op]
            for n in library[node.op].node_def:
                visit_node(n)
        visit_attrs(node.attr)

    for node in graph_def.node:
        visit_node(node)
    return [found[name] for name in sorted(found)]


def tensor_types(graph) -> dict[str, TensorInfo]:
    """Static dtype and shape of every tensor of a tf.Graph."""
    types = {}
    for op in graph.get_operations():
        for t in op.outputs:
            shape = None if t.shape.rank is None else tuple(t.shape.as_list())
            types[t.name] = TensorInfo(_dtype_name(t.dtype), shape)
    return types


def _component_spec(signature: Signature, component: str):
    for group in signature.input_groups.values():
        if component in group.components:
            return group.components[component]
    return None


def _set_shape(proto, shape) -> None:
    proto.SetInParent()   # a scalar has no dims, but its shape is still known
    for d in shape:
        proto.dim.add(size=-1 if d is None else int(d))


def _dtype_name(dtype) -> str:
    import tensorflow as tf

    if dtype in (tf.string, tf.resource, tf.variant):
        return dtype.name
    try:
        return np.dtype(dtype.as_numpy_dtype).name
    except TypeError:
        return dtype.name


def _first_line(e: BaseException) -> str:
    text = str(getattr(e, "message", None) or e).strip().splitlines()
    return text[0] if text else type(e).__name__
