"""`Converter.from_saved_model(path)` / `Converter.from_hlo(path)` ... `.convert()`, in the
shape of tf.lite.TFLiteConverter: each constructor returns its frontend's converter, a
subclass of one base (`ember_tf.frontend.ConverterBase`: `convert`, `convert_to_file`,
`reports`)."""

from __future__ import annotations

import os

from ember_tf.compiler import CompileOptions
from ember_tf.frontend import EXTERNAL_TABLE_BYTES, REPORT_METADATA, ConverterBase
from ember_tf.grappler_like.converter import FINGERPRINT_METADATA, SavedModelConverter
from ember_tf.hlo_import.converter import HloConverter

__all__ = ["FINGERPRINT_METADATA", "REPORT_METADATA", "Converter", "ConverterBase", "HloConverter",
           "SavedModelConverter"]


class Converter:
    """Where conversions start; the converters themselves are ConverterBase subclasses."""

    @staticmethod
    def from_saved_model(saved_model_dir: str | os.PathLike, signature_keys: list[str] | None = None,
                         tags: set[str] | list[str] | None = None, options: CompileOptions = CompileOptions(),
                         external_threshold: int = EXTERNAL_TABLE_BYTES) -> SavedModelConverter:
        """A converter for a SavedModel's signatures (all, or `signature_keys`) under the
        meta graph with `tags` (default `serve`). `external_threshold`: tables of at least
        this many bytes are stored after the FlatBuffer (streamed to the file, never copied
        into it)."""
        return SavedModelConverter.from_directory(saved_model_dir, signature_keys, tags, options, external_threshold)

    @staticmethod
    def from_hlo(path: str | os.PathLike, params_path: str | os.PathLike | None = None,
                 options: CompileOptions = CompileOptions(),
                 external_threshold: int = EXTERNAL_TABLE_BYTES) -> HloConverter:
        """A converter for an HLO module (text, or a serialized HloModuleProto with the .pb
        suffix); `params_path`: an .npz binding parameters `p0`, `p1`, ... (the tables)."""
        return HloConverter.from_file(path, params_path, options, external_threshold)
