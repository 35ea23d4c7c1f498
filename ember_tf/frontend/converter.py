"""The converter base every frontend's converter subclasses (TFLite's shape: the
`Converter.from_*` constructors return subclasses of one base): `build_model()` is the
frontend's; `convert()`, `convert_to_file()` and the report are common."""

from __future__ import annotations

import os
from typing import Callable

from ember_tf import dae_isa
from ember_tf.compiler import CompileOptions
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.frontend.layout import EXTERNAL_TABLE_BYTES, REPORT_METADATA, ModelLayout
from ember_tf.frontend.planning import PlacedKernel, PlanningOptions, place_kernels
from ember_tf.frontend.report import SignatureReport, reports_json


class ConverterBase:
    """Converts one source model to a .daebin: bytes (`convert`) or a file written
    atomically, with progress (`convert_to_file`). After either, `reports` says per
    signature what was offloaded and what stayed on the host."""

    def __init__(self, source: str, options: CompileOptions = CompileOptions(),
                 external_threshold: int = EXTERNAL_TABLE_BYTES, planning: PlanningOptions = PlanningOptions()):
        self.source = source
        self.options = options
        self.external_threshold = external_threshold   # tables this large go after the FlatBuffer
        self.planning = planning
        self.reports: list[SignatureReport] = []

    def convert(self) -> bytes:
        return dae_isa.serialize_model(self.build_model())

    def convert_to_file(self, path: str | os.PathLike, progress: Callable[[int, int], None] | None = None) -> int:
        """Writes the model atomically (no partial file on failure); returns its size."""
        return dae_isa.write_model(self.build_model(), path, progress=progress)

    def build_model(self) -> fb.ModelT:
        """The converted model (and `self.reports`)."""
        raise NotImplementedError

    def place_kernels(self, key: str, steps: list, static_sizes, constant_table=lambda call: None) \
            -> dict[int, PlacedKernel]:
        """The planner's decision for every kernel step of signature `key`'s plan
        (frontend/planning.py: place_kernels)."""
        return place_kernels(key, steps, self.options, self.planning, static_sizes, constant_table)

    def new_layout(self) -> ModelLayout:
        name = os.path.basename(self.source.rstrip("/"))
        return ModelLayout(f"converted by ember-tf from {name}", self.source, self.external_threshold)

    def add_reports(self, layout: ModelLayout, reports: list[SignatureReport]) -> None:
        if self.planning.hot_rows is not None:
            self.planning.hot_rows.check_model()
        self.reports = reports
        layout.metadata(REPORT_METADATA, reports_json(reports))
