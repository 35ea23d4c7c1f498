"""The frontend core: what the SavedModel frontend (grappler_like/) and the HLO frontend
(hlo_import/) share, written once. The kernel-call, skip and report types; the rewrite
driver that runs a frontend's rewriters over its graph; the host-level planner that cuts
what the rewriters left into host segments between kernel launches; the layout of a
converted model as a .daebin; and the converter base both frontends' converters subclass.
A frontend adds only what differs: flattening, pattern matching, host-segment
serialization."""

from ember_tf.frontend.converter import ConverterBase
from ember_tf.frontend.layout import EXTERNAL_TABLE_BYTES, REPORT_METADATA, ModelLayout
from ember_tf.frontend.report import HostSegmentSummary, OffloadedOp, SignatureReport, signature_report
from ember_tf.frontend.rewrite import KernelCall, Rewriter, Rewritten, Site, Skip, Skipped, rewrite_graph
from ember_tf.frontend.schedule import HostStep, KernelStep, Levels, assign_levels, interleave, live_values

__all__ = [
    "EXTERNAL_TABLE_BYTES",
    "REPORT_METADATA",
    "ConverterBase",
    "HostSegmentSummary",
    "HostStep",
    "KernelCall",
    "KernelStep",
    "Levels",
    "ModelLayout",
    "OffloadedOp",
    "Rewriter",
    "Rewritten",
    "SignatureReport",
    "Site",
    "Skip",
    "Skipped",
    "assign_levels",
    "interleave",
    "live_values",
    "rewrite_graph",
    "signature_report",
]
