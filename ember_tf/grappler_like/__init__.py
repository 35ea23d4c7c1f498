"""SavedModel import: read saved_model.pb + checkpoint without executing; an indexed
graph view over function bodies; labelled op-type patterns matched over it; the
signature body flattened into one graph (`flat_graph`), one rewriter per embedding
family (`rewriter/`), and the residual host graph cut into segments (`host_graph`)."""

from ember_tf.grappler_like.graph_view import GraphView, Tensor
from ember_tf.grappler_like.pattern import ANY, ARG, Match, OpTypePattern, match_all, match_at
from ember_tf.grappler_like.saved_model import (
    Fingerprint,
    InputGroup,
    SavedModelGraph,
    Signature,
    TensorSpecInfo,
    Variable,
    read_saved_model,
)

__all__ = [
    "ANY",
    "ARG",
    "Fingerprint",
    "GraphView",
    "InputGroup",
    "Match",
    "OpTypePattern",
    "SavedModelGraph",
    "Signature",
    "Tensor",
    "TensorSpecInfo",
    "Variable",
    "match_all",
    "match_at",
    "read_saved_model",
]
