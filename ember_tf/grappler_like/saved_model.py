"""Read a TF2 SavedModel as protos, without executing it: signatures (with composite
inputs grouped), the function library, variables mapped through the object graph, and
weights from the checkpoint (tables streamed from it a block at a time, checkpoint.py).
With checkpoint.py, the only module here importing TF internals."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ember_tf.errors import SavedModelImportError
from ember_tf.frontend.layout import StreamedTable
from ember_tf.grappler_like.checkpoint import BundleTensor, open_bundle
from ember_tf.tf_loader import tensorflow

_CALL_OPS = ("StatefulPartitionedCall", "PartitionedCall")
_WRAPPER_OPS = _CALL_OPS + ("Identity", "NoOp")
_INIT_OP = "__saved_model_init_op"
_ATTRIBUTES = "/.ATTRIBUTES/"
_VALUE_ATTR = _ATTRIBUTES + "VARIABLE_VALUE"


@dataclass(frozen=True)
class TensorSpecInfo:
    """One tensor a signature feeds or fetches: its graph tensor (`serving_default_ids:0`)."""

    name: str
    dtype: str  # numpy dtype name, e.g. "int32"; "resource"/"variant"/"string" when not numeric
    shape: tuple[int | None, ...] | None  # None: unknown rank
    tensor: str


@dataclass(frozen=True)
class InputGroup:
    """A user-facing signature input and its component placeholders, in flat order
    (`x.indices`, `x.values`, `x.dense_shape` / `x.values`, `x.row_splits`)."""

    name: str
    kind: str  # "dense" | "sparse" | "ragged"
    components: dict[str, TensorSpecInfo]


@dataclass(frozen=True)
class Signature:
    """A SignatureDef, with the function that holds the real body."""

    key: str
    method_name: str
    inputs: dict[str, TensorSpecInfo]  # SignatureDef input key -> tensor, as written
    outputs: dict[str, TensorSpecInfo]  # composite outputs flattened as `key.values`, ...
    input_groups: dict[str, InputGroup]
    call_node: str  # the (Stateful)PartitionedCall node in the top-level graph
    function_name: str  # the body, e.g. `__inference___call___11`
    call_chain: tuple[str, ...]  # functions from the signature wrapper down to the body
    body_inputs: dict[int, str] = field(default_factory=dict)  # body input index -> component name
    body_outputs: dict[str, str] = field(default_factory=dict)  # output name -> body output arg
    component_keys: dict[str, str] = field(default_factory=dict)  # component name -> SignatureDef input key


@dataclass(frozen=True)
class Variable:
    """A variable of the object graph: `name` is its object path from the root."""

    name: str
    node_id: int  # id in meta_graph.object_graph_def
    dtype: str
    shape: tuple[int | None, ...]
    checkpoint_key: str
    variable_name: str  # SavedVariable.name, e.g. "embedding/embeddings" (informative only)
    handle_node: str | None  # top-level VarHandleOp node a signature call passes, if any
    shared_name: str | None


@dataclass(frozen=True)
class CapturedResource:
    """A resource other than a variable (a lookup table): the functions that create and
    initialize it, as TensorFlow runs them when it loads the SavedModel."""

    name: str                 # object path
    creator: str              # function returning the handle
    initializer: str | None   # function filling it, taking the handle (and constants) as captures
    initializer_captures: dict[int, object]  # initializer input index -> TensorProto, or None for the handle
    checkpoint_keys: tuple[str, str] | None = None  # (keys, values) saved in the checkpoint (mutable tables)


@dataclass(frozen=True)
class Fingerprint:
    """fingerprint.pb fields (provenance for compiled artifacts)."""

    saved_model_checksum: int
    graph_def_program_hash: int
    signature_def_hash: int
    saved_object_graph_hash: int
    checkpoint_hash: int


@dataclass
class SavedModelGraph:
    """The parsed meta graph. Functions are `FunctionDef` protos keyed by name."""

    path: str
    tags: tuple[str, ...]
    signatures: dict[str, Signature]
    functions: dict[str, object]
    graph_def: object
    variables: list[Variable]
    fingerprint: Fingerprint | None
    _captures: dict[str, dict[int, int]] = field(repr=False, default_factory=dict)  # captured inputs
    _constants: dict[int, object] = field(repr=False, default_factory=dict)  # constant node id -> TensorProto
    _object_graph: object = field(repr=False, default=None)
    _paths: dict[int, str] = field(repr=False, default_factory=dict)     # object node id -> object path
    _asset_files: list[str] = field(repr=False, default_factory=list)    # asset_file_def filenames, in order
    _reader: object = field(repr=False, default=None)
    _bundle: object = field(repr=False, default=None)   # checkpoint.Bundle; False: TensorFlow's reader reads

    def signature(self, key: str) -> Signature:
        if key not in self.signatures:
            known = ", ".join(sorted(self.signatures)) or "none"
            raise SavedModelImportError(
                f"{self.path}: no signature {key!r} (signatures: {known})")
        return self.signatures[key]

    def variable(self, name: str) -> Variable:
        for v in self.variables:
            if v.name == name:
                return v
        raise SavedModelImportError(f"{self.path}: no variable at object path {name!r}")

    def resource_inputs(self, function_name: str) -> dict[int, Variable]:
        """Input index of `function_name` -> the variable its DT_RESOURCE input holds."""
        if function_name not in self.functions:
            raise SavedModelImportError(f"{self.path}: no function {function_name!r}")
        by_id = {v.node_id: v for v in self.variables}
        return {i: by_id[n] for i, n in self._captures.get(function_name, {}).items()
                if n in by_id}

    def captured_constants(self, function_name: str) -> dict[int, object]:
        """Input index of `function_name` -> the TensorProto of the constant it captures
        (an eager tensor the function closed over, saved as a top-level Const)."""
        out = {}
        for i, nid in self._captures.get(function_name, {}).items():
            value = self._constant_value(nid)
            if value is not None:
                out[i] = value
        return out

    def captured_resources(self, function_name: str) -> dict[int, CapturedResource | str]:
        """Input index of `function_name` -> the non-variable resource it captures, or a
        sentence saying why that resource cannot be rebuilt from the SavedModel."""
        out = {}
        for i, nid in self._captures.get(function_name, {}).items():
            node = self._object_graph.nodes[nid]
            if node.WhichOneof("kind") == "resource":
                out[i] = self._resource(nid)
        return out

    def _resource(self, nid: int) -> CapturedResource | str:
        og = self._object_graph
        path = self._paths.get(nid, f"node {nid}")
        children = {c.local_name: og.nodes[c.node_id] for c in og.nodes[nid].children}

        def function(name):
            node = children.get(name)
            if node is None or node.WhichOneof("kind") != "function" or not node.function.concrete_functions:
                return None
            return node.function.concrete_functions[0]

        creator, initializer = function("_create_resource"), function("_initialize")
        if creator is None or creator not in self.functions:
            return f"resource {path!r} has no _create_resource function"
        captures: dict[int, object] = {}
        if initializer is not None:
            args = self.functions[initializer].signature.input_arg
            bound = og.concrete_functions[initializer].bound_inputs
            for k, bound_id in enumerate(bound):
                index = len(args) - len(bound) + k
                if bound_id == nid:
                    captures[index] = None
                    continue
                value = self._constant_value(bound_id)
                if value is None:
                    value = self._asset_path(bound_id)
                if value is None:
                    kind = og.nodes[bound_id].WhichOneof("kind")
                    return f"resource {path!r} is initialized from a captured {kind}"
                captures[index] = value
        saved = None
        if og.nodes[nid].saveable_objects:   # a mutable table: its contents are in the checkpoint
            prefix = f"{path}{_ATTRIBUTES}{next(iter(og.nodes[nid].saveable_objects))}"
            saved = (f"{prefix}-keys", f"{prefix}-values")
        return CapturedResource(path, creator, initializer, captures, saved)

    def _asset_path(self, nid: int):
        """A captured asset (a vocabulary file) as a string TensorProto of its path in this SavedModel."""
        node = self._object_graph.nodes[nid]
        if node.WhichOneof("kind") != "asset" or node.asset.asset_file_def_index >= len(self._asset_files):
            return None
        filename = os.path.join(self.path, "assets", self._asset_files[node.asset.asset_file_def_index])
        from tensorflow.python.framework import tensor_util

        return tensor_util.make_tensor_proto(filename.encode())

    def _constant_value(self, nid: int):
        return self._constants.get(nid)

    def read_variable(self, variable: Variable | str) -> np.ndarray:
        """The variable's value, read from variables/variables.* (the reader stays open)."""
        if isinstance(variable, str):
            variable = self.variable(variable)
        return self.read_checkpoint(variable.checkpoint_key)

    def table(self, variable: Variable | str) -> StreamedTable | np.ndarray:
        """A table's value for the layout: streamed from the checkpoint a block of rows at a
        time when checkpoint.py can read the variable, else read whole through TensorFlow."""
        tensor = self._bundle_tensor(variable)
        if tensor is None:
            return self.read_variable(variable)
        return StreamedTable(tensor.dtype, tensor.shape, tensor.blocks)

    def table_view(self, variable: Variable | str) -> np.ndarray:
        """A table's value with rows to read in any order: a read-only view of the checkpoint
        (its checksum checked first) when checkpoint.py can read it, else read whole."""
        tensor = self._bundle_tensor(variable)
        return self.read_variable(variable) if tensor is None else tensor.verified_view()

    def _bundle_tensor(self, variable: Variable | str) -> BundleTensor | None:
        if isinstance(variable, str):
            variable = self.variable(variable)
        if self._bundle is None:
            prefix = self._checkpoint_prefix()
            self._bundle = open_bundle(prefix) or False
        tensor = self._bundle.tensor(variable.checkpoint_key) if self._bundle else None
        if tensor is None or tensor.dtype.name != variable.dtype or len(tensor.shape) != len(variable.shape) \
                or any(d is not None and d != got for d, got in zip(variable.shape, tensor.shape)):
            return None   # TensorFlow's reader reads it (and names what is wrong)
        return tensor

    def _checkpoint_prefix(self) -> str:
        prefix = os.path.join(self.path, "variables", "variables")
        if not os.path.exists(prefix + ".index"):
            raise SavedModelImportError(f"{prefix}: variables checkpoint not found")
        return prefix

    def read_checkpoint(self, key: str) -> np.ndarray:
        """The tensor saved under `key` in variables/variables.*."""
        prefix = os.path.join(self.path, "variables", "variables")
        if self._reader is None:
            if not os.path.exists(prefix + ".index"):
                raise SavedModelImportError(f"{prefix}: variables checkpoint not found")
            try:
                self._reader = _tf().train.load_checkpoint(prefix)
            except Exception as e:  # noqa: BLE001 - TF raises several types here
                raise SavedModelImportError(
                    f"{prefix}: cannot open checkpoint ({_one_line(e)})") from None
        try:
            return np.asarray(self._reader.get_tensor(key))
        except Exception as e:  # noqa: BLE001
            raise SavedModelImportError(f"{prefix}: cannot read {key!r} ({_one_line(e)})") from None


def read_saved_model(path: str, tags=("serve",)) -> SavedModelGraph:
    """Parse `path/saved_model.pb` (protos only) into a SavedModelGraph."""
    _tf()
    from google.protobuf.message import DecodeError
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.fspath(path)
    pb = os.path.join(path, "saved_model.pb")
    if not os.path.isdir(path):
        raise SavedModelImportError(f"{path}: SavedModel directory not found")
    if not os.path.isfile(pb):
        raise SavedModelImportError(f"{path}: no saved_model.pb in the directory")
    sm = saved_model_pb2.SavedModel()
    try:
        with open(pb, "rb") as f:
            sm.ParseFromString(f.read())
    except (DecodeError, ValueError, RuntimeError) as e:
        raise SavedModelImportError(f"{pb}: not a valid SavedModel proto ({_one_line(e)})") from None
    tags = tuple(tags)
    mg = next((m for m in sm.meta_graphs if set(m.meta_info_def.tags) == set(tags)), None)
    if mg is None:
        found = "; ".join(",".join(m.meta_info_def.tags) for m in sm.meta_graphs) or "none"
        raise SavedModelImportError(
            f"{pb}: no meta graph with tags {','.join(tags)} (found: {found})")
    _check_edges(pb, mg)
    try:
        return _Builder(path, tags, mg).build()
    except _MalformedType as e:
        raise SavedModelImportError(f"{pb}: {e}") from None


class _MalformedType(Exception):
    """A dtype enum no TensorFlow dtype has (a damaged file); read_saved_model names the file."""


def _check_edges(pb: str, mg) -> None:
    """Every edge of the graph and of every library function comes from a node or argument
    that exists, and every op is registered or a library function: what a damaged
    saved_model.pb breaks first, checked before anything follows an edge."""
    from tensorflow.python.framework import op_def_registry

    library = {f.signature.name for f in mg.graph_def.library.function}
    bodies = [("the graph", {n.name for n in mg.graph_def.node}, mg.graph_def.node)]
    for f in mg.graph_def.library.function:
        names = {n.name for n in f.node_def} | {a.name for a in f.signature.input_arg}
        bodies.append((f"function {f.signature.name}", names, f.node_def))
    for where, names, nodes in bodies:
        for node in nodes:
            if node.op not in library and op_def_registry.get(node.op) is None:
                raise SavedModelImportError(f"{pb}: {where}: node {node.name!r} runs op {node.op!r}, which is neither "
                                            f"registered nor in the function library")
            for edge in node.input:
                source = edge.lstrip("^").split(":")[0]
                if source not in names:
                    raise SavedModelImportError(f"{pb}: {where}: node {node.name!r} reads {edge!r}, which names no "
                                                f"node or argument")


class _Builder:
    def __init__(self, path, tags, mg):
        self.path, self.tags, self.mg = path, tags, mg
        self.nodes = {n.name: n for n in mg.graph_def.node}
        self.functions = {f.signature.name: f for f in mg.graph_def.library.function}
        self.og = mg.object_graph_def
        # function -> {input index -> object-graph node id} of what it captures, from bound_inputs
        self.captures: dict[str, dict[int, int]] = {}
        for fname, cf in self.og.concrete_functions.items():
            fdef = self.functions.get(fname)
            if fdef is None or not cf.bound_inputs:
                continue
            args = fdef.signature.input_arg
            first = len(args) - len(cf.bound_inputs)
            self.captures[fname] = {first + k: nid for k, nid in enumerate(cf.bound_inputs)}
        self.handles: dict[int, str] = {}  # object node id -> VarHandleOp name
        # Top-level VarHandleOp or Const -> object node id: constants name theirs; variables are
        # read off every top-level call of a function with bound inputs (signature wrappers,
        # the saver's functions).
        constants = {nid: node.constant.operation for nid, node in enumerate(self.og.nodes)
                     if node.WhichOneof("kind") == "constant"}
        self.constants = {nid: self.nodes[op].attr["value"].tensor for nid, op in constants.items()
                          if op in self.nodes and self.nodes[op].op == "Const"}
        self.capture_ids: dict[str, int] = {operation: nid for nid, operation in constants.items()}
        for node in mg.graph_def.node:
            if node.op not in _CALL_OPS:
                continue
            inputs = _data_inputs(node.input)
            for index, nid in self.captures.get(node.attr["f"].func.name, {}).items():
                source = self.nodes.get(inputs[index].split(":")[0]) if index < len(inputs) else None
                if source is not None and source.op == "VarHandleOp":
                    self.capture_ids.setdefault(source.name, nid)

    def build(self) -> SavedModelGraph:
        sigs = {}
        for key, sd in self.mg.signature_def.items():
            if key == _INIT_OP:
                continue
            sigs[key] = self._signature(key, sd)
        return SavedModelGraph(
            path=self.path, tags=self.tags, signatures=sigs, functions=self.functions,
            graph_def=self.mg.graph_def, variables=self._variables(),
            fingerprint=read_fingerprint(self.path), _captures=self.captures,
            _constants=self.constants, _object_graph=self.og, _paths=self.paths,
            _asset_files=[a.filename for a in self.mg.asset_file_def])

    # -- variables ----------------------------------------------------------------

    def _variables(self) -> list[Variable]:
        # Breadth-first from the root, children in order: the first path reaching a node
        # is the one the checkpoint key is built from.
        paths = self.paths = {0: ""}
        queue = [0]
        while queue:
            nid = queue.pop(0)
            for child in self.og.nodes[nid].children:
                if child.node_id not in paths:
                    base = paths[nid]
                    paths[child.node_id] = f"{base}/{child.local_name}" if base else child.local_name
                    queue.append(child.node_id)
        out = []
        for nid, node in enumerate(self.og.nodes):
            if node.WhichOneof("kind") != "variable" or nid not in paths:
                continue
            var = node.variable
            handle = self.handles.get(nid)
            shared = None
            if handle is not None and "shared_name" in self.nodes[handle].attr:
                shared = self.nodes[handle].attr["shared_name"].s.decode()
            out.append(Variable(
                name=paths[nid], node_id=nid, dtype=_dtype_name(var.dtype),
                shape=_shape(var.shape), checkpoint_key=paths[nid] + _VALUE_ATTR,
                variable_name=var.name, handle_node=handle, shared_name=shared))
        return out

    # -- signatures ---------------------------------------------------------------

    def _signature(self, key, sd) -> Signature:
        # A SignatureDef's inputs and outputs are protobuf maps, whose order varies from one
        # process to the next: by key, the converted file is the same every time.
        inputs = {k: _spec(k, ti) for k, ti in sorted(sd.inputs.items()) if ti.WhichOneof("encoding") == "name"}
        outputs = {}
        for k, ti in sorted(sd.outputs.items()):
            outputs.update(_flatten_info(k, ti))
        call = self._call_node(key, sd)
        chain, arg_map = self._follow(key, call)
        body = chain[-1]
        self.captures[body] = {**self.captures.get(body, {}), **self._chain_captures(call, chain)}
        # Top-level call inputs that are VarHandleOps name the handle of each variable.
        for idx, top in arg_map.items():
            nid = self.captures.get(body, {}).get(idx)
            node = self.nodes.get(top)
            if nid is not None and node is not None and node.op == "VarHandleOp":
                self.handles.setdefault(nid, top)
        groups = self._groups(sd, call, body, arg_map)
        component = {t.tensor.split(":")[0]: name for g in groups.values()
                     for name, t in g.components.items()}
        body_inputs = {i: component[top] for i, top in arg_map.items() if top in component}
        key_of = {ti.name.split(":")[0]: k for k, ti in sd.inputs.items() if ti.WhichOneof("encoding") == "name"}
        component_keys = {name: key_of[t.tensor.split(":")[0]] for g in groups.values()
                          for name, t in g.components.items() if t.tensor.split(":")[0] in key_of}
        return Signature(key=key, method_name=sd.method_name, inputs=inputs, outputs=outputs,
                         input_groups=groups, call_node=call.name, function_name=body,
                         call_chain=tuple(chain), body_inputs=body_inputs, component_keys=component_keys,
                         body_outputs=self._body_outputs(outputs, call, chain))

    def _body_outputs(self, outputs, call, chain) -> dict[str, str]:
        """Signature output name -> the body's output arg, following each wrapper's
        `ret` (`inner:output:j`) down the call chain."""
        found = {}
        for name, spec in outputs.items():
            node, _, index = spec.tensor.partition(":")
            if node != call.name:
                continue
            position = int(index or 0)
            for fname in chain:
                arg = self.functions[fname].signature.output_arg[position].name
                if fname == chain[-1]:
                    found[name] = arg
                    break
                position = self._call_output(self.functions[fname], self.functions[fname].ret[arg])
                if position is None:
                    break
        return found

    @staticmethod
    def _call_output(fdef, edge: str) -> int | None:
        """Which output of the wrapper's inner call `edge` is, through Identities."""
        nodes = {n.name: n for n in fdef.node_def}
        while True:
            parts = edge.split(":")
            node = nodes.get(parts[0])
            if node is None or len(parts) != 3:
                return None
            if node.op in _CALL_OPS:
                return int(parts[2])
            if node.op != "Identity":
                return None
            edge = node.input[0]

    def _call_node(self, key, sd):
        names = []
        for ti in list(sd.outputs.values()) + list(sd.inputs.values()):
            names += [t for t in _tensor_names(ti)]
        for t in names:
            node = self.nodes.get(t.split(":")[0].lstrip("^"))
            if node is not None and node.op in _CALL_OPS:
                return node
        placeholders = {t.split(":")[0] for t in names}
        for node in self.mg.graph_def.node:
            if node.op in _CALL_OPS and placeholders & {i.split(":")[0] for i in node.input}:
                return node
        raise SavedModelImportError(
            f"{self.path}: signature {key!r} has no (Stateful)PartitionedCall node")

    def _follow(self, key, call):
        """Follow call -> wrapper -> ... -> body. Returns the chain of function names and
        {body input index -> top-level input node name}."""
        arg_map = {i: inp.split(":")[0] for i, inp in enumerate(_data_inputs(call.input))}
        chain = []
        fname = call.attr["f"].func.name
        while True:
            fdef = self.functions.get(fname)
            if fdef is None:
                raise SavedModelImportError(
                    f"{self.path}: signature {key!r} calls {fname!r}, not in the function library")
            chain.append(fname)
            calls = [n for n in fdef.node_def if n.op in _CALL_OPS]
            if len(calls) != 1 or any(n.op not in _WRAPPER_OPS for n in fdef.node_def):
                return chain, arg_map
            arg_index = {a.name: i for i, a in enumerate(fdef.signature.input_arg)}
            inner = calls[0]
            arg_map = {j: arg_map.get(arg_index.get(inp)) for j, inp in enumerate(_data_inputs(inner.input))}
            arg_map = {j: v for j, v in arg_map.items() if v is not None}
            fname = inner.attr["f"].func.name

    def _chain_captures(self, call, chain) -> dict[int, int]:
        """Body input index -> object node id of everything it captures, followed from
        the top-level call down the chain: a capture is known at a level when the call
        passes a known VarHandleOp, Const or argument, or when that level's concrete
        function binds it (`get_concrete_function()` signatures call a trace the object
        graph does not list, so the body itself may bind nothing)."""
        known = {i: self.capture_ids.get(inp.split(":")[0]) for i, inp in enumerate(_data_inputs(call.input))}
        for fname in chain:
            known = {i: nid for i, nid in known.items() if nid is not None}
            known.update(self.captures.get(fname, {}))
            if fname == chain[-1]:
                return known
            fdef = self.functions[fname]
            arg_index = {a.name: i for i, a in enumerate(fdef.signature.input_arg)}
            inner = next(n for n in fdef.node_def if n.op in _CALL_OPS)
            known = {j: known.get(arg_index.get(inp)) for j, inp in enumerate(_data_inputs(inner.input))}
        return {}

    def _groups(self, sd, call, body, arg_map) -> dict[str, InputGroup]:
        by_tensor = {ti.name.split(":")[0]: k for k, ti in sd.inputs.items()
                     if ti.WhichOneof("encoding") == "name"}
        groups: dict[str, InputGroup] = {}
        # 1. encodings written into the SignatureDef itself (TF1 / hand-built signatures).
        for k, ti in sd.inputs.items():
            enc = ti.WhichOneof("encoding")
            if enc in ("coo_sparse", "composite_tensor"):
                comps = _flatten_info(k, ti)
                kind = "sparse" if enc == "coo_sparse" else _kind(ti.composite_tensor.type_spec)
                groups[k] = InputGroup(k, kind, comps)
        # 2. TF2 writes flattened dense TensorInfos; the structure is in the body's
        #    canonicalized_input_signature in the object graph.
        leaves = None
        cf = self.og.concrete_functions.get(body)
        if cf is not None and cf.HasField("canonicalized_input_signature"):
            leaves = list(_leaves(cf.canonicalized_input_signature))
        needed = sum(n for _, n in leaves) if leaves is not None and not groups else 0
        keys = [by_tensor.get(arg_map.get(i, "")) for i in range(needed)]
        if needed and all(keys) and len(set(keys)) == needed:
            pos = 0
            for kind, n in leaves:
                comp_keys = keys[pos:pos + n]
                pos += n
                name = comp_keys[0]  # TF names the first component after the argument
                names = _component_names(name, kind, n)
                groups[name] = InputGroup(name, kind, {
                    cn: _spec(cn, sd.inputs[ck]) for cn, ck in zip(names, comp_keys)})
        grouped = {t.tensor for g in groups.values() for t in g.components.values()}
        for k, ti in sd.inputs.items():
            if ti.WhichOneof("encoding") == "name" and ti.name not in grouped:
                groups[k] = InputGroup(k, "dense", {k: _spec(k, ti)})
        return groups


def _data_inputs(inputs) -> list[str]:
    return [i for i in inputs if not i.startswith("^")]


def _leaves(sv):
    """(kind, component count) per leaf of a StructuredValue, in nest.flatten order."""
    which = sv.WhichOneof("kind")
    if which in ("tuple_value", "list_value"):
        for v in getattr(sv, which).values:
            yield from _leaves(v)
    elif which == "dict_value":
        for k in sorted(sv.dict_value.fields):
            yield from _leaves(sv.dict_value.fields[k])
    elif which == "named_tuple_value":
        for pair in sv.named_tuple_value.values:
            yield from _leaves(pair.value)
    elif which == "tensor_spec_value" or which == "bounded_tensor_spec_value":
        yield ("dense", 1)
    elif which == "type_spec_value":
        kind = _kind(sv.type_spec_value)
        n = sv.type_spec_value.num_flat_components
        if kind == "dense":  # another composite: its components stay separate dense inputs
            for _ in range(n):
                yield ("dense", 1)
        else:
            yield (kind, n)


def _kind(type_spec) -> str:
    from tensorflow.core.protobuf import struct_pb2
    cls = type_spec.type_spec_class
    if cls == struct_pb2.TypeSpecProto.SPARSE_TENSOR_SPEC:
        return "sparse"
    if cls == struct_pb2.TypeSpecProto.RAGGED_TENSOR_SPEC:
        return "ragged"
    return "dense"


def _component_names(name, kind, n):
    if kind == "sparse":
        return [f"{name}.indices", f"{name}.values", f"{name}.dense_shape"]
    if kind == "ragged":
        if n == 2:
            return [f"{name}.values", f"{name}.row_splits"]
        return [f"{name}.values"] + [f"{name}.row_splits.{i}" for i in range(n - 1)]
    return [name] if n == 1 else [f"{name}.{i}" for i in range(n)]


def _flatten_info(key, ti) -> dict[str, TensorSpecInfo]:
    enc = ti.WhichOneof("encoding")
    if enc == "coo_sparse":
        c = ti.coo_sparse
        names = _component_names(key, "sparse", 3)
        tensors = [c.indices_tensor_name, c.values_tensor_name, c.dense_shape_tensor_name]
        dtypes = [9, ti.dtype, 9]  # indices and dense_shape are int64
        return {n: TensorSpecInfo(n, _dtype_name(d), None, t)
                for n, d, t in zip(names, dtypes, tensors)}
    if enc == "composite_tensor":
        comps = ti.composite_tensor.components
        names = _component_names(key, _kind(ti.composite_tensor.type_spec), len(comps))
        return {n: _spec(n, c) for n, c in zip(names, comps)}
    return {key: _spec(key, ti)}


def _tensor_names(ti):
    enc = ti.WhichOneof("encoding")
    if enc == "name":
        return [ti.name]
    if enc == "coo_sparse":
        c = ti.coo_sparse
        return [c.indices_tensor_name, c.values_tensor_name, c.dense_shape_tensor_name]
    if enc == "composite_tensor":
        return [c.name for c in ti.composite_tensor.components]
    return []


def _spec(name, ti) -> TensorSpecInfo:
    return TensorSpecInfo(name, _dtype_name(ti.dtype), _shape(ti.tensor_shape), ti.name)


def _shape(shape_proto):
    if shape_proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else int(d.size) for d in shape_proto.dim)


def _dtype_name(enum) -> str:
    tf = _tf()
    try:
        dt = tf.dtypes.as_dtype(enum)
    except TypeError:
        raise _MalformedType(f"dtype {enum} is no TensorFlow dtype") from None
    try:
        return np.dtype(dt.as_numpy_dtype).name if dt.is_numpy_compatible and \
            dt not in (tf.string, tf.resource, tf.variant) else dt.name
    except TypeError:
        return dt.name


def read_fingerprint(path) -> Fingerprint | None:
    """The SavedModel's fingerprint.pb, or None when it has none (or it cannot be read)."""
    if not os.path.isfile(os.path.join(path, "fingerprint.pb")):
        return None
    try:
        fp = _tf().saved_model.experimental.read_fingerprint(path)
        return Fingerprint(int(fp.saved_model_checksum), int(fp.graph_def_program_hash),
                           int(fp.signature_def_hash), int(fp.saved_object_graph_hash),
                           int(fp.checkpoint_hash))
    except Exception:  # noqa: BLE001 - provenance only; never fatal
        return None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _tf():
    return tensorflow("reading a SavedModel")
