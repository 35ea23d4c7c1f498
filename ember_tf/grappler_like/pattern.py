"""Labelled op-type patterns over a GraphView, in the shape of tf2onnx's
`OpTypePattern` and grappler's `utils/pattern_utils.h`: a pattern is a tree whose
indentation mirrors the subgraph it matches, read from the output towards the
inputs; a label used twice must bind the same node (so trees describe DAGs).

    SPARSE_BAG = OpTypePattern("SparseSegmentSum|SparseSegmentMean|SparseSegmentSqrtN", "combine", [
        OpTypePattern("ResourceGather", "gather", [ARG("table"), OpTypePattern("Unique", "unique")]),
        OpTypePattern("Unique", "unique"),
        ANY("segment_ids"),
    ])

`Identity` nodes between a producer and its consumer are looked through unless the
pattern asks for an Identity itself (function bodies are full of them).
"""

from __future__ import annotations

import dataclasses
from typing import Iterator

from ember_tf.grappler_like.graph_view import GraphView, Tensor

WILDCARD = "*"
_ARGUMENT = "<argument>"


@dataclasses.dataclass(frozen=True)
class OpTypePattern:
    """`op_type`: an op name, alternatives joined by `|`, or `*` for anything. `name`
    labels the matched node (or argument). `inputs`: patterns for the node's data
    inputs in order; None leaves them unconstrained, a list must match them all."""

    op_type: str
    name: str | None = None
    inputs: tuple["OpTypePattern", ...] | None = None

    def __init__(self, op_type: str, name: str | None = None, inputs=None):
        object.__setattr__(self, "op_type", op_type)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "inputs", None if inputs is None else tuple(inputs))

    def accepts(self, op: str) -> bool:
        return self.op_type == WILDCARD or op in self.op_type.split("|")


def ANY(name: str | None = None) -> OpTypePattern:
    """Any value: a node's output or a function argument."""
    return OpTypePattern(WILDCARD, name)


def ARG(name: str | None = None) -> OpTypePattern:
    """A function argument (a signature input or a captured variable)."""
    return OpTypePattern(_ARGUMENT, name)


@dataclasses.dataclass
class Match:
    """What a pattern bound: label -> the tensor it matched (for a node: its output
    that fed the consumer; the node is `tensor.node`)."""

    view: GraphView
    tensors: dict[str, Tensor]

    def node(self, label: str):
        tensor = self.tensors[label]
        if tensor.is_arg:
            raise KeyError(f"{label!r} matched the argument {tensor.node}, not a node")
        return self.view.node(tensor.node)

    def nodes(self) -> set[str]:
        return {t.node for t in self.tensors.values() if not t.is_arg}

    def only_consumed_inside(self, labels: list[str], keep: str) -> bool:
        """Can the nodes of `labels` be removed when the match is replaced? Only if
        nothing outside the match reads them (the `keep` node's consumers are the
        replacement's) and none is a function output."""
        inside = self.nodes()
        return all(self._private(self.tensors[label].node, inside) for label in labels
                   if label != keep and not self.tensors[label].is_arg)

    def _private(self, node: str, inside: set[str]) -> bool:
        """Everything reading `node` (through Identity nodes) is inside the match."""
        for index, users in self.view.fanout(node).items():
            if self.view.is_output(Tensor(node, index)):
                return False
            for user, _ in users:
                if user in inside:
                    continue
                if self.view.node(user).op != "Identity" or not self._private(user, inside):
                    return False
        return True


def match_all(view: GraphView, pattern: OpTypePattern) -> Iterator[Match]:
    """Every match of `pattern` rooted at a node of `view`, in node order."""
    for name, node in view.nodes.items():
        if pattern.accepts(node.op):
            bound = _match(view, pattern, Tensor(name, 0), {})
            if bound is not None:
                yield Match(view, bound)


def match_at(view: GraphView, pattern: OpTypePattern, tensor: Tensor) -> Match | None:
    """The match of `pattern` rooted at `tensor`'s producer, if any."""
    bound = _match(view, pattern, tensor, {})
    return None if bound is None else Match(view, bound)


def _skip_identities(view: GraphView, tensor: Tensor) -> Tensor:
    while not tensor.is_arg and view.node(tensor.node).op == "Identity" and view.fanin(tensor.node):
        tensor = view.fanin(tensor.node)[0]
    return tensor


def _match(view: GraphView, pattern: OpTypePattern, tensor: Tensor, bound: dict) -> dict | None:
    if "Identity" not in pattern.op_type.split("|"):
        tensor = _skip_identities(view, tensor)
    if pattern.name is not None and pattern.name in bound:
        return bound if bound[pattern.name].node == tensor.node and \
            bound[pattern.name].is_arg == tensor.is_arg else None
    if pattern.op_type == _ARGUMENT:
        if not tensor.is_arg:
            return None
    elif tensor.is_arg:
        if pattern.op_type != WILDCARD:
            return None
    elif not pattern.accepts(view.node(tensor.node).op):
        return None
    bound = dict(bound)
    if pattern.name is not None:
        bound[pattern.name] = tensor
    if pattern.inputs is None or tensor.is_arg:
        return bound
    fanin = view.fanin(tensor.node)
    if len(fanin) != len(pattern.inputs):
        return None
    for child, source in zip(pattern.inputs, fanin):
        bound = _match(view, child, source, bound)
        if bound is None:
            return None
    return bound
