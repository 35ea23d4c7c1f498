"""One report schema for both frontends: the same fields from a SavedModel and from an
HLO module, JSON round trips, and a report written before host segments said where they
run reads back as TensorFlow's."""

from __future__ import annotations

import numpy as np

from ember_tf.frontend import HostSegmentSummary, OffloadedOp, SignatureReport, Skipped
from ember_tf.frontend.report import reports_from_json, reports_json
from tests.hlo_import.test_cli import LOOKUP


def test_round_trip_and_old_files():
    report = SignatureReport("serving_default", [OffloadedOp("gather", "gather_0", ["g"], ["table"])],
                             [Skipped("bag", "b", "Sum", "why")], [HostSegmentSummary("host_0", {"MatMul": 2}, "TensorFlow")])
    assert reports_from_json(reports_json([report])) == [report]
    old = '[{"key":"k","offloaded":[],"not_offloaded":[],"host_segments":[{"name":"host_0","ops":{}}]}]'
    assert reports_from_json(old)[0].host_segments[0].runs_on == "TensorFlow"


def test_both_frontends_give_the_same_schema(tmp_path):
    import tensorflow as tf

    from ember_tf import Converter
    from ember_tf.frontend import ConverterBase

    (tmp_path / "m.hlo").write_text(LOOKUP)
    hlo = Converter.from_hlo(tmp_path / "m.hlo")

    class Lookup(tf.Module):
        def __init__(self):
            self.table = tf.Variable(np.arange(40, dtype=np.float32).reshape(10, 4))

        @tf.function(input_signature=[tf.TensorSpec([None], tf.int32)])
        def serve(self, ids):
            return {"rows": tf.nn.relu(tf.gather(self.table, ids))}

    module = Lookup()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    saved_model = Converter.from_saved_model(tmp_path / "sm")
    for converter in (hlo, saved_model):
        assert isinstance(converter, ConverterBase)
        converter.convert()
        (report,) = converter.reports
        assert isinstance(report, SignatureReport) and report.key == "serving_default"
        assert [type(e) for e in report.offloaded] == [OffloadedOp]
        assert {s.runs_on for s in report.host_segments} == {"the HLO evaluator" if converter is hlo else "TensorFlow"}
    assert saved_model.reports[0].offloaded[0].tables == ["table"]
