"""Warmup requests: `assets.extra/tf_serving_warmup_requests`, a TFRecord file of
`tensorflow.serving.PredictionLog` records (tensorflow-serving-api's protos), at
most 1000 (tensorflow.org/tfx/serving/saved_model_warmup). Written from example
inputs, read back as emulator inputs, and replayed through a program.

A request's inputs are keyed by SignatureDef input keys (a SparseTensor `ids` of a
TF2 signature arrives as `ids`, `ids_1`, `ids_2`); the program's
`signature_input_keys` metadata maps them onto its npz component names."""

from __future__ import annotations

import dataclasses
import os
import pathlib
from typing import Iterator

import numpy as np

from ember_tf.dae_isa.metadata import INPUT_KEYS_METADATA, metadata_json
from ember_tf.dae_isa.writer import atomic_path
from ember_tf.emulator import Interpreter
from ember_tf.emulator.stats import RunStats
from ember_tf.errors import EmberError
from ember_tf.tf_loader import tensorflow

WARMUP_FILE = "tf_serving_warmup_requests"
MAX_RECORDS = 1000


@dataclasses.dataclass
class WarmupRequest:
    model_name: str
    signature_key: str
    inputs: dict[str, np.ndarray]    # SignatureDef input key -> value


def _protos():
    tensorflow("warmup requests")
    try:
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2
    except ImportError:
        raise EmberError("warmup requests need tensorflow-serving-api (pip install tensorflow-serving-api)") \
            from None
    return model_pb2, predict_pb2, prediction_log_pb2


def write_warmup_requests(path: str | os.PathLike, requests: list[WarmupRequest]) -> pathlib.Path:
    """Writes the requests as a PredictionLog TFRecord file, atomically."""
    tf = tensorflow("warmup requests")
    model_pb2, predict_pb2, prediction_log_pb2 = _protos()
    if not 0 < len(requests) <= MAX_RECORDS:
        raise EmberError(f"{path}: TF Serving takes 1 to {MAX_RECORDS} warmup requests, not {len(requests)}")
    path = pathlib.Path(path)
    with atomic_path(path) as tmp, tf.io.TFRecordWriter(str(tmp)) as writer:
        for request in requests:
            predict = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=request.model_name, signature_name=request.signature_key))
            for key, value in request.inputs.items():
                predict.inputs[key].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=predict))
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(path: str | os.PathLike) -> list[WarmupRequest]:
    """The predict requests of a warmup file; EmberError naming the file and the record
    for anything else."""
    return list(iter_warmup_requests(path))


def iter_warmup_requests(path: str | os.PathLike) -> Iterator[WarmupRequest]:
    """read_warmup_requests one request at a time, as the file is read (a long trace of
    them is never held whole)."""
    tf = tensorflow("warmup requests")
    _, _, prediction_log_pb2 = _protos()
    path = pathlib.Path(path)
    if not path.is_file():
        raise EmberError(f"{path}: warmup requests file not found")
    count = 0
    records = iter(tf.data.TFRecordDataset(str(path)).as_numpy_iterator())
    while True:
        try:
            record = next(records, None)
        except tf.errors.OpError as e:
            raise EmberError(f"{path}: not a TFRecord file ({e.message.splitlines()[0]})") from None
        if record is None:
            break
        log = prediction_log_pb2.PredictionLog()
        try:
            log.ParseFromString(record)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError
            raise EmberError(f"{path}: record {count} is not a PredictionLog") from None
        kind = log.WhichOneof("log_type")
        if kind != "predict_log":
            raise EmberError(f"{path}: record {count} is a {kind or 'empty log'}; only predict requests replay")
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        count += 1
        yield WarmupRequest(request.model_spec.name, request.model_spec.signature_name or "serving_default", inputs)
    if not count:
        raise EmberError(f"{path}: holds no requests")


@dataclasses.dataclass
class Replayed:
    request: WarmupRequest
    outputs: dict[str, np.ndarray]
    stats: RunStats


def replay(interpreter: Interpreter, requests: list[WarmupRequest]) -> list[Replayed]:
    """Runs every request through the program (its signature, its inputs mapped onto
    the program's component names)."""
    keys = input_keys(interpreter)
    results = []
    for i, request in enumerate(requests):
        runner = interpreter.get_signature_runner(request.signature_key)
        mapping = keys.get(runner.key, {})
        feeds = {mapping.get(k, k): v for k, v in request.inputs.items()}
        try:
            outputs = runner(**feeds)
        except EmberError as e:
            raise EmberError(f"request {i}: {e}") from None
        results.append(Replayed(request, outputs, interpreter.last_stats))
    return results


def to_request_keys(interpreter: Interpreter, signature_key: str, feeds: dict[str, np.ndarray]) -> dict:
    """npz component names -> SignatureDef input keys (for writing requests)."""
    inverse = {component: key for key, component in input_keys(interpreter).get(signature_key, {}).items()}
    return {inverse.get(name, name): value for name, value in feeds.items()}


def input_keys(interpreter: Interpreter) -> dict[str, dict[str, str]]:
    return metadata_json(interpreter.model, INPUT_KEYS_METADATA) or {}
