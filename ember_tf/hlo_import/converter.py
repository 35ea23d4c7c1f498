"""HLO text or HloModuleProto -> .daebin: flatten the entry (calls and fusions
inlined, no-op reshapes read through), rewrite the embedding work into kernels,
cut the rest into HLO host segments the emulator's evaluator runs, lay it out.

The model's signature `serving_default` takes the entry's parameters as inputs
`p0, p1, ...` (by parameter number) and gives the result as `out0, out1, ...` (a
tuple result flattened). Parameters bound at conversion (`params`: number ->
array, e.g. the tables) become constant tensors instead of inputs."""

from __future__ import annotations

import os
import pathlib

import numpy as np

from ember_tf.compiler import CompileOptions
from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.errors import ConversionError, EmberError
from ember_tf.frontend import (
    EXTERNAL_TABLE_BYTES, ConverterBase, HostStep, KernelCall, ModelLayout, Rewritten, SignatureReport,
    signature_report,
)
from ember_tf.frontend.planning import ID_ARGS, KernelSizes, PlacedKernel, PlanningOptions
from ember_tf.hlo.errors import HloParseError
from ember_tf.hlo.module import Module
from ember_tf.hlo.text import parse_module, print_module
from ember_tf.hlo.verifier import verify_module
from ember_tf.hlo_import.flatten import flatten, simplify
from ember_tf.hlo_import.graph import FlatGraph
from ember_tf.hlo_import.plan import HloPlan, plan
from ember_tf.hlo_import.rewriter import rewrite_graph
from ember_tf.ir.hot_rows import hot_remapped
from ember_tf.npz import load_npy_dir, load_npz

SIGNATURE_KEY = "serving_default"


def load_module(path: str | os.PathLike) -> Module:
    """An HLO module from text (.hlo, .txt, anything not .pb) or a serialized HloModuleProto (.pb)."""
    path = pathlib.Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise EmberError(f"{path}: cannot read: {e.strerror or e}") from None
    if path.suffix == ".pb":
        from ember_tf.hlo.proto import read_module_proto

        return read_module_proto(data, str(path))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise EmberError(f"{path}: not HLO text (not UTF-8); a serialized HloModuleProto needs the .pb suffix") \
            from None
    return parse_module(text, str(path))


def load_params(path: str | os.PathLike, module: Module) -> dict[int, np.ndarray]:
    """Parameters bound by an .npz keyed `p0`, `p1`, ..., or a directory of `p0.npy`,
    `p1.npy`, ... read memory-mapped (checked against the entry)."""
    arrays = load_npy_dir(path) if os.path.isdir(path) else load_npz(path)
    parameters = {f"p{p.parameter_number}": p for p in module.entry_computation.parameters()}
    bound = {}
    for key, value in arrays.items():
        if key not in parameters:
            raise EmberError(f"{path}: '{key}' is not a parameter of the entry computation "
                             f"(it has {', '.join(parameters) or 'none'})")
        shape = parameters[key].shape
        if shape.is_tuple or value.dtype != shape.numpy_dtype or value.shape != shape.dims:
            raise EmberError(f"{path}: '{key}' is {value.dtype} {list(value.shape)}, the module's parameter is "
                             f"{shape}")
        bound[parameters[key].parameter_number] = value
    return bound


class HloConverter(ConverterBase):
    """Converts an HLO module (its entry computation) to a .daebin with one signature."""

    def __init__(self, module: Module, source: str, params: dict[int, np.ndarray] | None = None,
                 options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES,
                 planning: PlanningOptions = PlanningOptions()):
        super().__init__(source, options, external_threshold, planning)
        self.module = module
        self.params = params or {}

    @classmethod
    def from_file(cls, path: str | os.PathLike, params_path: str | os.PathLike | None = None,
                  options: CompileOptions = CompileOptions(), external_threshold: int = EXTERNAL_TABLE_BYTES,
                  planning: PlanningOptions = PlanningOptions()) -> "HloConverter":
        module = load_module(path)
        params = load_params(params_path, module) if params_path else {}
        return cls(module, str(path), params, options, external_threshold, planning)

    def build_model(self) -> fb.ModelT:
        # parse_module and read_module_proto verify already; a Module built in code is checked here
        verify_module(self.module, lambda c, i, message: HloParseError(f"{self.source}: {message}"))
        flat = flatten(self.module)
        flat.computations[flat.entry] = simplify(flat.entry_computation)
        graph = FlatGraph(flat)
        rewritten = rewrite_graph(graph)
        steps = plan(graph, rewritten.calls)
        _check_evaluable(steps, self.source)
        bound = {p.name: f"p{p.parameter_number}" for p in steps.parameters if p.parameter_number in self.params}
        placed = self.place_kernels(SIGNATURE_KEY, steps.steps, lambda call: _static_sizes(call, steps),
                                    lambda call: bound.get(call.inputs[0]))
        layout = self.new_layout()
        self._lay_out(layout, steps, placed)
        self.add_reports(layout, [_report(rewritten, steps, placed)])
        return layout.model

    def _lay_out(self, layout: ModelLayout, steps: HloPlan, placed: dict[int, PlacedKernel]) -> None:
        tensors: dict[str, int] = {}
        inputs = {}
        bound: dict[str, int] = {}       # parameter bound to a table -> its number
        hot_only = _hot_only_tables(steps, placed)
        for parameter in steps.parameters:
            number = parameter.parameter_number
            if parameter.shape.is_tuple:
                raise ConversionError(f"{self.source}: parameter {number} is a tuple; only array parameters "
                                      f"are supported")
            if number in self.params:
                bound[parameter.name] = number
                if parameter.name not in hot_only:
                    tensors[parameter.name] = layout.constant(f"p{number}", f"p{number}",
                                                              lambda v=self.params[number]: v)
            else:
                tensors[parameter.name] = inputs[f"p{number}"] = self._tensor(layout, f"p{number}",
                                                                             steps, parameter.name)

        def tensor(name: str) -> int:
            if name not in tensors:
                tensors[name] = self._tensor(layout, name, steps, name)
            return tensors[name]

        operators = []
        for index, step in enumerate(steps.steps):
            if isinstance(step, HostStep):
                operators.append(layout.host_segment(
                    step.name, fb.HostFormat.HLO_MODULE, print_module(step.program).encode(), step.input_names,
                    list(step.outputs),
                    [tensor(t) for t in step.inputs], [tensor(t) for t in step.outputs]))
            else:
                call, where = step.call, placed[index]
                func = call.func
                if where.hot is None:
                    args = [tensor(call.inputs[0])]
                else:     # the extended table replaces the table (never stored twice)
                    func = hot_remapped(func, func.arg_names[0])
                    number = bound[call.inputs[0]]
                    args = list(layout.hot_table(f"p{number}", lambda n=number: self.params[n], where.hot))
                args += [tensor(t) for t in call.inputs[1:]]
                operators.append(layout.kernel(func, where.options, args, [tensor(t) for t in call.outputs],
                                               (where.core_offset, where.core_count)))
        outputs = {f"out{k}": tensor(name) for k, name in enumerate(steps.outputs)}
        layout.signature(SIGNATURE_KEY, inputs, outputs, operators)

    def _tensor(self, layout: ModelLayout, name: str, steps: HloPlan, value: str) -> int:
        shape = steps.shapes[value]
        if shape.is_tuple:
            raise ConversionError(f"{self.source}: value {value!r} is a tuple; a .daebin tensor is an array")
        return layout.tensor(name, shape.numpy_dtype.name, shape.dims)


def _hot_only_tables(steps: HloPlan, placed: dict[int, PlacedKernel]) -> set[str]:
    """The tables only kernels reading hot rows use: stored as their extended tables alone."""
    hot, other = set(), set()
    for index, step in enumerate(steps.steps):
        if isinstance(step, HostStep):
            other.update(step.inputs)
        elif placed[index].hot is None:
            other.update(step.call.inputs)
        else:
            hot.add(step.call.inputs[0])
            other.update(step.call.inputs[1:])
    return hot - other


def _check_evaluable(steps: HloPlan, source: str) -> None:
    """An opcode the evaluator lacks is named now, not when the model runs; so is a host
    segment whose text the emulator would not load: each is printed and parsed back
    (and so verified) exactly as the emulator will."""
    from ember_tf.hlo.evaluator import HloEvaluationError, check_supported

    for step in steps.steps:
        if isinstance(step, HostStep):
            try:
                check_supported(step.program)
                parse_module(print_module(step.program), f"host segment {step.name}")
            except (HloEvaluationError, HloParseError) as e:
                raise ConversionError(f"{source}: {e}") from None


def _report(rewritten: Rewritten, steps: HloPlan, placed: dict[int, PlacedKernel]) -> SignatureReport:
    return signature_report(SIGNATURE_KEY, rewritten, steps.steps, _host_ops, "the HLO evaluator", placed=placed)


def _static_sizes(call: KernelCall, steps: HloPlan) -> KernelSizes:
    """HLO shapes are static: a kernel call's sizes are always known."""
    rows = steps.shapes[call.inputs[0]].dims[0]
    ids = next(steps.shapes[v].dims for n, v in zip(call.func.arg_names, call.inputs) if n in ID_ARGS)
    bags = steps.shapes[call.outputs[0]].dims[0]
    return KernelSizes(int(rows), int(bags), int(np.prod(ids, dtype=np.int64)))


def _host_ops(step: HostStep):
    """A segment's instructions worth naming: not its parameters, constants and tuple."""
    return [(i.name, i.opcode) for i in step.program.entry_computation.instructions
            if i.opcode not in ("parameter", "constant", "tuple")]
