"""SavedModel import: read saved_model.pb + checkpoint without executing; an indexed
graph view over function bodies; labelled op-type patterns matched over it. (The
rewriters per embedding family and the converter come next: not built yet.)"""

from ember_tf.grappler_like.graph_view import GraphView, Tensor
from ember_tf.grappler_like.pattern import ANY, ARG, Match, OpTypePattern, match_all
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
    "read_saved_model",
]
