"""Serialized HloModuleProto (or an HloProto / HloSnapshot around one) -> Module.

The result equals what `text.parse_module` makes of the same module printed by XLA:
the same names, shapes, operands, literals and attributes, in the printed order —
computations as XLA's post order visits them (callees before callers), instructions in
the schedule's order when the module is scheduled, else in the proto's (post) order.
Attributes are rendered as XLA's printer writes them (only what it prints: a slice's
strides only when one is not 1, `indices_are_sorted` only when true), then canonicalized
as the text parser does. Unlike the text, the proto keeps large constants (the text
prints `constant({...})`).

The protos are TensorFlow's bundled copies, a private import path; `_protos` is the
only place that knows it."""

from __future__ import annotations

import math
import re
import sys

import numpy as np

from ember_tf.errors import EmberError
from ember_tf.hlo.module import ELEMENT_TYPES, IGNORED_ATTRIBUTES, Computation, Instruction, Module, Shape
from ember_tf.hlo.errors import HloParseError
from ember_tf.hlo.verifier import MAX_RANK, MAX_TUPLE_DEPTH, shape_error, verify_module


class HloProtoUnavailableError(EmberError):
    """The installed TensorFlow does not ship the XLA protos this reader needs."""


class _Malformed(Exception):
    """An attribute renderer's complaint; `_Reader.instruction` names the instruction."""


def read_module_proto(data: bytes, source: str = "<hlo proto>", verify: bool = True) -> Module:
    """Read a serialized HloModuleProto, HloProto or HloSnapshot; HloParseError
    (one line, naming `source`) when the bytes are not one, or when the module fails
    the verifier (`verifier.verify_module`; the message names computation/instruction)."""
    hlo_pb2, xla_data_pb2 = _protos()
    module = _decode(bytes(data), source, hlo_pb2)
    module = _Reader(module, source, xla_data_pb2).module()
    if verify:
        verify_module(module, lambda computation, instruction, message: HloParseError(f"{source}: {message}"))
    return module


def _protos():
    from ember_tf.tf_loader import tensorflow

    tensorflow("reading an HloModuleProto")      # silences TensorFlow's import-time logs
    try:
        from tensorflow.compiler.xla import xla_data_pb2
        from tensorflow.compiler.xla.service import hlo_pb2
    except ImportError as e:
        raise HloProtoUnavailableError(
            f"reading an HloModuleProto needs TensorFlow's bundled XLA protos "
            f"(tensorflow.compiler.xla.service.hlo_pb2), which this TensorFlow lacks: {e}") from None
    return hlo_pb2, xla_data_pb2


def _decode(data: bytes, source: str, hlo_pb2):
    """The HloModuleProto inside `data`. Protobuf decodes almost any bytes as some
    message, so each wrapper is accepted only if it yields a module with an entry."""
    from google.protobuf.message import DecodeError

    decoded = False
    for kind, unwrap in ((hlo_pb2.HloModuleProto, lambda m: m),
                         (hlo_pb2.HloProto, lambda m: m.hlo_module),
                         (hlo_pb2.HloSnapshot, lambda m: m.hlo.hlo_module)):
        message = kind()
        try:
            message.ParseFromString(data)
        except DecodeError:
            continue
        decoded = True
        module = unwrap(message)
        if _has_entry(module):
            return module
    if not data:
        problem = "the input is empty"
    elif decoded:
        problem = "it decodes but holds no computations with an entry"
    else:
        problem = "the bytes are corrupt or truncated (protobuf cannot decode them)"
    raise HloParseError(f"{source}: not a serialized HloModuleProto: {problem}")


def _has_entry(module) -> bool:
    return any(c.instructions and (c.id == module.entry_computation_id or c.name == module.entry_computation_name)
               for c in module.computations)


def _name(name: str) -> str:
    return name[1:] if name.startswith("%") else name


def _canonical(value: str) -> str:
    """As the text parser stores attribute values."""
    return re.sub(r"\s+", "", value).replace("%", "")


def _ints(values) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


class _Reader:
    def __init__(self, proto, source: str, xla_data_pb2):
        self.proto, self.source, self.xla = proto, source, xla_data_pb2
        self.names = {c.id: _name(c.name) for c in proto.computations}
        self.schedule = {key: list(seq.instruction_ids) for key, seq in proto.schedule.sequences.items()}

    def error(self, message: str) -> HloParseError:
        return HloParseError(f"{self.source}: {message}")

    def module(self) -> Module:
        ordered = {c.id: self.ordered(c) for c in self.proto.computations}
        computations = {}
        for c in _print_order(self.proto.computations):
            if self.names[c.id] in computations:
                raise self.error(f"computation {self.names[c.id]!r} defined twice")
            computations[self.names[c.id]] = self.computation(c, ordered[c.id])
        return Module(_name(self.proto.name), computations, self.entry())

    def entry(self) -> str:
        if self.proto.entry_computation_id in self.names:
            return self.names[self.proto.entry_computation_id]
        return _name(self.proto.entry_computation_name)

    def ordered(self, proto) -> list:
        """The instructions in print order: a scheduled computation's schedule, else the
        proto's order (XLA writes a post order, as the text prints unscheduled ones)."""
        by_id = {i.id: i for i in proto.instructions}
        if len(by_id) != len(proto.instructions):
            raise self.error(f"computation {_name(proto.name)!r} gives two instructions the same id")
        schedule = self.schedule.get(proto.id, [])
        if sorted(schedule) == sorted(by_id):
            return [by_id[i] for i in schedule]
        return list(proto.instructions)

    def computation(self, proto, ordered: list) -> Computation:
        by_id = {i.id: i for i in ordered}
        if proto.root_id not in by_id:
            raise self.error(f"computation {_name(proto.name)!r}: root id {proto.root_id} "
                             "is not one of its instructions")
        instructions = [self.instruction(i, by_id, proto.name) for i in ordered]
        if len({i.name for i in instructions}) != len(instructions):
            raise self.error(f"computation {_name(proto.name)!r} names an instruction twice")
        return Computation(_name(proto.name), instructions, _name(by_id[proto.root_id].name))

    def instruction(self, proto, by_id, computation: str) -> Instruction:
        where = f"{_name(computation)}/{_name(proto.name)}"
        operands = []
        for operand_id in proto.operand_ids:
            if operand_id not in by_id:
                raise self.error(f"{where}: operand id {operand_id} is not an instruction of the computation")
            operands.append(by_id[operand_id])
        shape = self.shape(proto.shape, where)
        instruction = Instruction(_name(proto.name), proto.opcode, shape, [_name(o.name) for o in operands])
        if proto.opcode == "constant":
            instruction.literal = self.literal(proto.literal, shape, where)
        elif proto.opcode == "parameter":
            instruction.parameter_number = proto.parameter_number
        operand_types = [self.element_type(o.shape.element_type) for o in operands]
        try:
            attrs = _ATTRIBUTES.get(proto.opcode, _none)(proto, operand_types)
            attrs += self.called(proto, operand_types, where)
        except (IndexError, KeyError) as e:    # too few operands or callees, an unknown enum value
            raise self.error(f"{where}: malformed {proto.opcode} instruction ({type(e).__name__}: {e})") from None
        except _Malformed as e:
            raise self.error(f"{where}: {e}") from None
        instruction.attrs = {k: _canonical(v) for k, v in attrs if k not in IGNORED_ATTRIBUTES}
        return instruction

    # -- shapes and literals ------------------------------------------------------------

    def element_type(self, number: int) -> str:
        try:
            return self.xla.PrimitiveType.Name(number).lower()
        except ValueError:
            return f"<primitive type {number}>"

    def shape(self, proto, where: str, depth: int = 0) -> Shape:
        dtype = self.element_type(proto.element_type)
        if dtype == "tuple":
            if depth >= MAX_TUPLE_DEPTH:
                raise self.error(f"{where}: tuple shapes nest more than {MAX_TUPLE_DEPTH} deep")
            return Shape("tuple", (), tuple(self.shape(s, where, depth + 1) for s in proto.tuple_shapes))
        if dtype not in ELEMENT_TYPES and dtype != "token":
            raise self.error(f"{where}: element type {dtype} is not supported")
        if any(proto.is_dynamic_dimension):
            raise self.error(f"{where}: dynamic shapes are not supported")
        if any(d < 0 for d in proto.dimensions):
            raise self.error(f"{where}: shape {dtype}{list(proto.dimensions)} has a negative dimension")
        return Shape(dtype, tuple(int(d) for d in proto.dimensions))

    def literal(self, proto, shape: Shape, where: str) -> np.ndarray:
        if shape.is_tuple or shape.dtype == "token":
            raise self.error(f"{where}: {shape.dtype} constants are not supported")
        problem = shape_error(shape)         # the verifier's limits, before numpy builds the array
        if problem:
            raise self.error(f"{where}: {problem}")
        values = getattr(proto, _LITERAL_FIELDS[shape.dtype])
        count = math.prod(shape.dims)
        if isinstance(values, bytes):      # 8- and 16-bit types are packed little-endian
            if len(values) != count * shape.numpy_dtype.itemsize:
                raise self.error(f"{where}: constant of shape {shape} holds {len(values)} bytes, not "
                                 f"{count * shape.numpy_dtype.itemsize}")
            flat = np.frombuffer(values, dtype=shape.numpy_dtype)
            flat = flat.byteswap() if sys.byteorder == "big" else flat
        else:
            if len(values) != count:
                raise self.error(f"{where}: constant of shape {shape} holds {len(values)} values, not {count}")
            flat = np.array(values, dtype=shape.numpy_dtype)
        if flat.size != count:
            raise self.error(f"{where}: constant of shape {shape} holds {flat.size} values, not {count}")
        # The values are stored in the literal's layout; the text prints them row-major.
        major_to_minor = list(reversed(proto.shape.layout.minor_to_major))
        if sorted(major_to_minor) != list(range(len(shape.dims))):
            major_to_minor = list(range(len(shape.dims)))
        physical = flat.reshape(tuple(shape.dims[d] for d in major_to_minor))
        return physical.transpose(tuple(int(i) for i in np.argsort(major_to_minor))).copy(order="C")

    # -- called computations -------------------------------------------------------------

    def called(self, proto, operand_types: list[str], where: str) -> list[tuple[str, str]]:
        """The keys XLA's printer gives called computations, by opcode."""
        ids = list(proto.called_computation_ids)
        missing = [i for i in ids if i not in self.names]
        if missing:
            raise self.error(f"{where} calls computation id {missing[0]}, which the module does not define")
        names = [self.names[i] for i in ids]
        if not names:
            return []
        opcode = proto.opcode
        if opcode == "while":                        # the proto lists [body, condition]
            return [("condition", names[1]), ("body", names[0])]
        if opcode == "select-and-scatter":
            return [("select", names[0]), ("scatter", names[1])]
        if opcode == "conditional" and operand_types and operand_types[0] == "pred":
            return [("true_computation", names[0]), ("false_computation", names[1])]
        if opcode == "conditional":
            return [("branch_computations", "{" + ",".join(names) + "}")]
        if opcode in _TO_APPLY:
            return [("to_apply", names[0])]
        if opcode == "custom-call":
            return [("called_computations", "{" + ",".join(names) + "}")]
        return [("calls", ",".join(names))]


_TO_APPLY = frozenset({"call", "map", "reduce-window", "reduce", "all-reduce", "reduce-scatter",
                       "all-reduce-start", "scatter", "sort"})
_LITERAL_FIELDS = {"pred": "preds", "s8": "s8s", "s16": "s16s", "s32": "s32s", "s64": "s64s",
                   "u8": "u8s", "u16": "u16s", "u32": "u32s", "u64": "u64s",
                   "f16": "f16s", "bf16": "bf16s", "f32": "f32s", "f64": "f64s"}


def _print_order(computations) -> list:
    """HloModule::MakeComputationPostOrder, the order XLA prints computations in: each
    computation nothing calls (in proto order) after the ones it embeds."""
    by_id = {c.id: c for c in computations}
    called = {callee for c in computations for i in c.instructions for callee in i.called_computation_ids}
    order, added = [], set()
    for root in [c.id for c in computations if c.id not in called]:
        for cid in _embedded(root, by_id) + [root]:
            if cid not in added:
                added.add(cid)
                order.append(by_id[cid])
    return order + [c for c in computations if c.id not in added]     # only reachable in a call cycle


def _embedded(root: int, by_id: dict) -> list:
    """HloComputation::MakeEmbeddedComputationsList: depth first through the instructions
    in id (creation) order, which is XLA's list order, marking callees seen when pushed."""
    order, seen, stack = [], set(), []

    def instructions(cid: int):
        return iter(sorted(by_id[cid].instructions, key=lambda i: i.id))

    def push(instruction) -> None:
        for callee in reversed(instruction.called_computation_ids):
            if callee in by_id and callee not in seen:
                seen.add(callee)
                stack.append((callee, instructions(callee)))

    for instruction in instructions(root):
        push(instruction)
        while stack:
            callee, rest = stack[-1]
            following = next(rest, None)
            if following is None:
                stack.pop()
                order.append(callee)
            else:
                push(following)
    return order


# -- per-opcode attributes, as XLA's printer writes them (values before canonicalization) --

def _none(proto, operand_types) -> list:
    return []


def _dimensions(proto, operand_types) -> list:
    return [("dimensions", _ints(proto.dimensions))]


def _sort(proto, operand_types) -> list:
    return _dimensions(proto, operand_types) + ([("is_stable", "true")] if proto.is_stable else [])


def _slice(proto, operand_types) -> list:
    dims = proto.slice_dimensions
    strided = any(d.stride != 1 for d in dims)    # XLA prints strides only if one is not 1
    bounds = [f"[{d.start}:{d.limit}" + (f":{d.stride}]" if strided else "]") for d in dims]
    return [("slice", "{" + ",".join(bounds) + "}")]


def _compare(proto, operand_types) -> list:
    attrs = [("direction", proto.comparison_direction)]
    if proto.comparison_type and proto.comparison_type != _default_comparison(operand_types[0]):
        attrs.append(("type", proto.comparison_type))
    return attrs


def _default_comparison(element_type: str) -> str:
    if element_type.startswith(("f", "bf", "c")):
        return "FLOAT"
    return "SIGNED" if element_type.startswith("s") else "UNSIGNED"


def _gather(proto, operand_types) -> list:
    d = proto.gather_dimension_numbers
    attrs = [("offset_dims", _ints(d.offset_dims)), ("collapsed_slice_dims", _ints(d.collapsed_slice_dims)),
             ("start_index_map", _ints(d.start_index_map))]
    attrs += _nonempty(("operand_batching_dims", d.operand_batching_dims),
                       ("start_indices_batching_dims", d.start_indices_batching_dims))
    attrs += [("index_vector_dim", str(d.index_vector_dim)), ("slice_sizes", _ints(proto.gather_slice_sizes))]
    return attrs + _flags(proto, "indices_are_sorted")


def _scatter(proto, operand_types) -> list:
    d = proto.scatter_dimension_numbers
    attrs = [("update_window_dims", _ints(d.update_window_dims)),
             ("inserted_window_dims", _ints(d.inserted_window_dims))]
    attrs += _nonempty(("input_batching_dims", d.input_batching_dims),
                       ("scatter_indices_batching_dims", d.scatter_indices_batching_dims))
    attrs += [("scatter_dims_to_operand_dims", _ints(d.scatter_dims_to_operand_dims)),
              ("index_vector_dim", str(d.index_vector_dim))]
    return attrs + _flags(proto, "indices_are_sorted", "unique_indices")


def _dot(proto, operand_types) -> list:
    d = proto.dot_dimension_numbers
    return (_nonempty(("lhs_batch_dims", d.lhs_batch_dimensions))
            + [("lhs_contracting_dims", _ints(d.lhs_contracting_dimensions))]
            + _nonempty(("rhs_batch_dims", d.rhs_batch_dimensions))
            + [("rhs_contracting_dims", _ints(d.rhs_contracting_dimensions))])


def _nonempty(*pairs) -> list:
    return [(key, _ints(values)) for key, values in pairs if values]


def _flags(proto, *names) -> list:
    return [(name, "true") for name in names if getattr(proto, name)]


def _pad(proto, operand_types) -> list:
    dims = proto.padding_config.dimensions
    interior = any(d.interior_padding for d in dims)    # printed only if some dimension has it
    parts = [f"{d.edge_padding_low}_{d.edge_padding_high}" + (f"_{d.interior_padding}" if interior else "")
             for d in dims]
    return [("padding", "x".join(parts))]


def _window(window) -> str:
    """window_util::ToString: size always, the other fields only when not all default."""
    dims = window.dimensions
    fields = [("size", lambda d: str(d.size), True),
              ("stride", lambda d: str(d.stride), any(d.stride != 1 for d in dims)),
              ("pad", lambda d: f"{d.padding_low}_{d.padding_high}",
               any(d.padding_low or d.padding_high for d in dims)),
              ("lhs_dilate", lambda d: str(d.base_dilation), any(d.base_dilation != 1 for d in dims)),
              ("rhs_dilate", lambda d: str(d.window_dilation), any(d.window_dilation != 1 for d in dims)),
              ("rhs_reversal", lambda d: str(int(d.window_reversal)), any(d.window_reversal for d in dims))]
    text = " ".join(f"{key}=" + "x".join(render(d) for d in dims) for key, render, shown in fields if shown)
    return "{" + text + "}" if dims else "{}"


def _windowed(proto, operand_types) -> list:
    return [("window", _window(proto.window))]


def _dim_labels(d) -> str:
    """ConvolutionDimensionNumbersToString, e.g. b01f_01io->b01f."""
    def labels(first, second, spatial, names) -> str:
        for dim in (first, second, *spatial):      # each sizes the string: bounded before it is built
            if not 0 <= dim < MAX_RANK:
                raise _Malformed(f"convolution dimension number {dim} is out of range [0, {MAX_RANK})")
        out = ["?"] * (max([first, second, *spatial]) + 1)
        out[first], out[second] = names
        for i, dim in enumerate(spatial):
            out[dim] = str(i)
        return "".join(out)

    return (labels(d.input_batch_dimension, d.input_feature_dimension, d.input_spatial_dimensions, "bf") + "_"
            + labels(d.kernel_input_feature_dimension, d.kernel_output_feature_dimension,
                     d.kernel_spatial_dimensions, "io") + "->"
            + labels(d.output_batch_dimension, d.output_feature_dimension, d.output_spatial_dimensions, "bf"))


def _group_counts(proto) -> list:
    return ([("feature_group_count", str(proto.feature_group_count))] if proto.feature_group_count > 1 else []) + (
        [("batch_group_count", str(proto.batch_group_count))] if proto.batch_group_count > 1 else [])


def _convolution(proto, operand_types) -> list:
    attrs = _windowed(proto, operand_types) if proto.window.dimensions else []
    return attrs + [("dim_labels", _dim_labels(proto.convolution_dimension_numbers))] + _group_counts(proto)


def _custom_call(proto, operand_types) -> list:
    attrs = _windowed(proto, operand_types) if proto.HasField("window") else []
    if proto.HasField("convolution_dimension_numbers"):
        attrs.append(("dim_labels", _dim_labels(proto.convolution_dimension_numbers)))
    attrs += _group_counts(proto)
    target = proto.custom_call_target.replace("\\", "\\\\").replace('"', '\\"')
    attrs.append(("custom_call_target", f'"{target}"'))
    attrs += _flags(proto, "custom_call_has_side_effect")
    if proto.custom_call_api_version > 1:       # ORIGINAL (and unspecified, read as it) is not printed
        attrs.append(("api_version", _enum_name(proto, "custom_call_api_version", lower=False)))
    return attrs


def _enum_name(proto, field: str, lower: bool) -> str:
    name = type(proto).DESCRIPTOR.fields_by_name[field].enum_type.values_by_number[getattr(proto, field)].name
    return name.lower() if lower else name


def _batch_norm(proto, operand_types) -> list:
    return [("epsilon", f"{proto.epsilon:.6g}"), ("feature_index", str(proto.feature_index))]


_ATTRIBUTES = {
    **dict.fromkeys(("broadcast", "transpose", "reduce", "reverse", "concatenate", "map",
                     "get-dimension-size", "set-dimension-size"), _dimensions),
    "sort": _sort,
    "reshape": lambda p, t: [("inferred_dimension", str(p.dimensions[0]))] if p.dimensions else [],
    "slice": _slice,
    "dynamic-slice": lambda p, t: [("dynamic_slice_sizes", _ints(p.dynamic_slice_sizes))],
    "get-tuple-element": lambda p, t: [("index", str(p.tuple_index))],
    "compare": _compare,
    "gather": _gather,
    "scatter": _scatter,
    "dot": _dot,
    "iota": lambda p, t: [("iota_dimension", str(p.dimensions[0]) if p.dimensions else "0")],
    "pad": _pad,
    "fusion": lambda p, t: [("kind", p.fusion_kind)],
    "reduce-precision": lambda p, t: [("exponent_bits", str(p.exponent_bits)),
                                      ("mantissa_bits", str(p.mantissa_bits))],
    "reduce-window": _windowed,
    "select-and-scatter": _windowed,
    "convolution": _convolution,
    "custom-call": _custom_call,
    "rng": lambda p, t: [("distribution", _enum_name(p, "distribution", lower=True))],
    "rng-bit-generator": lambda p, t: [("algorithm", _enum_name(p, "rng_algorithm", lower=True))],
    "fft": lambda p, t: [("fft_type", _enum_name(p, "fft_type", lower=False)),
                         ("fft_length", _ints(p.fft_length))],
    "topk": lambda p, t: [("k", str(p.k)), ("largest", "true" if p.largest else "false")],
    **dict.fromkeys(("batch-norm-training", "batch-norm-inference", "batch-norm-grad"), _batch_norm),
}
