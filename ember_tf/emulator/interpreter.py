"""Run a .daebin: the tf.lite.Interpreter-shaped API over the emulator.

    interpreter = Interpreter(model_path="model.daebin", machine="tmu")
    runner = interpreter.get_signature_runner("serving_default")
    outputs = runner(ids=np.array([...], np.int32))
    interpreter.last_stats.cycles
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import dataclasses
import math
import os
import sys
import threading
from typing import Callable, Iterator

import numpy as np

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.metadata import INPUT_KEYS_METADATA, metadata_json
from ember_tf.dae_isa.reader import model_from_buffer, read_model
from ember_tf.dae_isa.mapped import MADV_RANDOM, advise, read_only_mapping
from ember_tf.dae_isa.writer import buffer_bytes
from ember_tf.emulator.core import run_golden_core
from ember_tf.emulator.hlo_host import HloHostSegment
from ember_tf.emulator.host import HostSegment, Port
from ember_tf.machines import MachineConfig, load_machine
from ember_tf.emulator.program import KernelProgram, load_kernel
from ember_tf.emulator.stats import HostStats, KernelStats, RunStats, kernel_stats
from ember_tf.emulator.activity import AddressMap
from ember_tf.emulator.row_cache import CachedSlot, RowCache, RowCacheConfig
from ember_tf.emulator.schedule import Booking, schedule, sharing_cores
from ember_tf.emulator.timing import (BUFFER, EMPTY_HISTORY, HOT, SCRATCHPAD, LlcHistory, Placed, coalesce,
                                      one_after_another, placed_slot, time_core)
from ember_tf.dae_isa.opcodes import Kind
from ember_tf.errors import EmulationError, InputError

PAGE = 4096


@dataclasses.dataclass
class _KernelJob:
    """A kernel operator ready to run: what _prepare_kernel worked out for _execute_kernel."""

    op: fb.OperatorT
    program: KernelProgram
    arrays: list
    params: list
    labels: list
    address_map: AddressMap
    first_core: int                 # the machine cores it holds: first_core .. first_core + core_count - 1
    core_count: int
    assignment: list[list[int]]     # roots of each core it runs on (root-less kernels: [[]])
    copies: int                     # > 1: copies of a kernel without an access unit, round-robin
    placed: dict[int, tuple[int, int, int]]   # placed slot -> (kind, first line, last line)

    @property
    def used_cores(self) -> int:
        return min(self.core_count, self.copies) if self.copies > 1 else len(self.assignment)


@dataclasses.dataclass(frozen=True)
class TensorDetail:
    name: str
    index: int
    dtype: np.dtype
    shape_signature: tuple[int, ...]


class SignatureRunner:
    """Callable that runs one signature: keyword numpy arrays in, dict out."""

    def __init__(self, interpreter: "Interpreter", signature: fb.SignatureDefT):
        self._interpreter, self._signature = interpreter, signature
        self.key = signature.key
        # TF Serving's SignatureDef keys (`ids`, `ids_1`, ... for a SparseTensor) name the components too
        self._request_keys = (metadata_json(interpreter.model, INPUT_KEYS_METADATA) or {}).get(self.key, {})

    def _details(self, maps) -> dict[str, TensorDetail]:
        tensors = self._interpreter.model.tensors
        return {
            m.name: TensorDetail(m.name, m.tensor, dtypes.numpy_dtype(tensors[m.tensor].dtype),
                                 tuple(int(d) for d in _signature_shape(tensors[m.tensor])))
            for m in maps or []
        }

    def get_input_details(self) -> dict[str, TensorDetail]:
        return self._details(self._signature.inputs)

    def get_output_details(self) -> dict[str, TensorDetail]:
        return self._details(self._signature.outputs)

    def __call__(self, **inputs: np.ndarray) -> dict[str, np.ndarray]:
        values = self._bind_inputs(inputs)
        subgraph = self._interpreter.model.subgraphs[self._signature.subgraph]
        stats = self._interpreter._run_subgraph(subgraph, values)
        self._interpreter.last_stats = stats
        return {m.name: values[m.tensor] for m in self._signature.outputs or []}

    def _bind_inputs(self, inputs: dict) -> dict[int, np.ndarray]:
        details = self.get_input_details()
        inputs = {name if name in details else self._request_keys.get(name, name): value
                  for name, value in inputs.items()}
        missing = sorted(set(details) - set(inputs))
        extra = sorted(set(inputs) - set(details))
        if missing:
            raise InputError(f"input '{missing[0]}' is missing (signature '{self.key}' takes "
                                 f"{', '.join(sorted(details))})")
        if extra:
            raise InputError(f"input '{extra[0]}' is not an input of signature '{self.key}' "
                                 f"(it takes {', '.join(sorted(details))})")
        values = {}
        for name, detail in details.items():
            array = np.asarray(inputs[name])
            if detail.dtype == object and array.dtype.kind in "SUO":   # a string input: bytes, as TensorFlow's
                array = _byte_strings(name, array)
            if array.dtype != detail.dtype:
                raise InputError(f"input '{name}' has dtype {array.dtype}, the model wants {detail.dtype}")
            if array.ndim != len(detail.shape_signature) or any(
                    want not in (-1, got) for want, got in zip(detail.shape_signature, array.shape)):
                raise InputError(f"input '{name}' has shape {list(array.shape)}, the model wants "
                                     f"{list(detail.shape_signature)} (-1: any size)")
            values[detail.index] = np.require(array, requirements="C")  # ascontiguousarray makes 0-d 1-d
        return values


def _llc_lines(activity, placed: tuple[Placed, ...], served: np.ndarray | None) -> np.ndarray:
    """The lines an access unit's run requested from the LLC (not from placed slots or a row
    cache), coalesced per stream as the timing model counts requests."""
    keep = np.ones(len(activity.au_line), bool)
    if placed:
        first = np.array([p.first_line for p in placed], np.int64)
        last = np.array([p.last_line for p in placed], np.int64)
        keep &= placed_slot(activity.au_line, first, last) < 0
    if served is not None:
        keep &= ~served
    lines, streams = activity.au_line[keep], activity.au_stream[keep]
    return lines[coalesce(streams, lines)] if len(lines) else lines


def _placed_bytes(slot: fb.KernelSlotT, array: np.ndarray, kernel: str) -> int:
    """The bytes of a placed slot that its memory holds: the leading hot_rows rows of a HOT slot
    that names them, the whole tensor otherwise."""
    rows = int(slot.hotRows or 0)
    if not rows:
        return int(array.nbytes)
    if array.ndim == 0 or rows > array.shape[0]:
        raise EmulationError(f"kernel '{kernel}': slot '{_text(slot.name)}' holds {rows} hot rows, but its "
                             f"tensor has shape {list(array.shape)}")
    return rows * (int(array.nbytes) // array.shape[0])


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _byte_strings(name: str, array: np.ndarray) -> np.ndarray:
    out = np.empty(array.shape, dtype=object)
    for index, value in np.ndenumerate(array):
        if isinstance(value, str):
            value = value.encode()
        if not isinstance(value, bytes):
            raise InputError(f"input '{name}' holds {type(value).__name__} values; the model wants strings")
        out[index] = value
    return out


def _signature_shape(tensor: fb.TensorT) -> list[int]:
    signature = [] if tensor.shapeSignature is None else [int(d) for d in tensor.shapeSignature]
    shape = [] if tensor.shape is None else [int(d) for d in tensor.shape]
    return signature if len(signature) == len(shape) and signature else shape


class Interpreter:
    """Loads a .daebin and runs its signatures on an emulated machine."""

    def __init__(self, model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                 machine: str | MachineConfig = "tmu", mode: str = "fast",
                 max_instructions: int = 1 << 31, row_cache: RowCacheConfig | None = None, warm_llc: bool = False,
                 **machine_overrides):
        if (model_path is None) == (model_content is None):
            raise ValueError("pass exactly one of model_path and model_content")
        self.model = read_model(model_path) if model_path is not None else model_from_buffer(model_content)
        base = load_machine(machine) if isinstance(machine, str) else machine
        self.machine = base.with_overrides(**machine_overrides)
        if mode not in _MODES:
            raise EmulationError(f"unknown emulation mode '{mode}' (available: {', '.join(_MODES)})")
        self.mode = mode
        self.max_instructions = max_instructions
        self.kernels = [load_kernel(k, f"kernels[{i}]") for i, k in enumerate(self.model.kernels or [])]
        self.last_stats: RunStats | None = None
        # Called before each kernel runs with (its number among its subgraph's kernels, its name,
        # its tensors by slot name, the model's tensor number bound to each slot): how a profile
        # sees what kernels read (sample sizes, the rows of each table).
        self.kernel_observer: Callable[[int, str, dict[str, np.ndarray], dict[str, int]], None] | None = None
        self._host_segments: dict[tuple, HostSegment] = {}  # imported on first use (TensorFlow is lazy)
        self._constants = {i: self._constant(t) for i, t in enumerate(self.model.tensors or []) if t.buffer}
        self.machine = self._with_pinned_rows(self.machine)
        # A software row cache (emulator/row_cache.py) over the kernels' tables, in the pinned LLC region.
        self.row_cache = None if row_cache is None else self._row_cache(row_cache)
        # warm_llc: the LLC keeps what the access units requested from one run to the next (as in
        # a serving process); without it each run starts with an empty LLC (as after other work).
        self.warm_llc = warm_llc
        self._llc_history, self._run_lines = EMPTY_HISTORY, []

    def _constant(self, tensor: fb.TensorT) -> np.ndarray:
        """A constant (a table) as a read-only view of the model's bytes, never a copy: read from
        a file, a view of its memory map, so only the pages of the rows a run touches become
        resident (no readahead around them: kernels gather rows at random)."""
        raw = buffer_bytes(self.model.buffers[tensor.buffer])
        shape = [int(d) for d in tensor.shape]
        array = np.frombuffer(raw, dtype=dtypes.numpy_dtype(tensor.dtype)).reshape(shape)
        if array.nbytes >= MAPPED_RANDOM_BYTES and read_only_mapping(array) is not None:
            advise(array, MADV_RANDOM)
        return array

    def _row_cache(self, config: RowCacheConfig) -> RowCache:
        if config.capacity_bytes > self.machine.pinnable_bytes:
            raise EmulationError(f"a {config.capacity_bytes:,}-byte row cache does not fit the "
                                 f"{self.machine.pinnable_bytes:,} bytes machine '{self.machine.name}' may pin "
                                 f"(pinned_llc_bytes)")
        tables = {}
        for position, slot, tensor in self._constant_bindings():
            array = self._constants[tensor]
            if position == 0 and array.ndim >= 2 and not slot.placement and array.shape[0]:
                tables[tensor] = (array.shape[0], array.nbytes // array.shape[0])
        if not tables:
            raise EmulationError("the model has no kernel reading a table of its own: nothing for a row cache")
        self.machine = dataclasses.replace(self.machine, llc_bytes=self.machine.llc_bytes - config.capacity_bytes)
        return RowCache(config, tables)

    def _constant_bindings(self) -> Iterator[tuple[int, fb.KernelSlotT, int]]:
        """(slot position, slot, tensor) for every kernel operator's slot bound to a constant."""
        for subgraph in self.model.subgraphs or []:
            for op in subgraph.operators or []:
                if op.kind != fb.OperatorKind.KERNEL:
                    continue
                tensors = [int(t) for t in list(op.inputs if op.inputs is not None else [])
                           + list(op.outputs if op.outputs is not None else [])]
                for position, (slot, tensor) in enumerate(zip(self.model.kernels[op.index].slots or [], tensors)):
                    if tensor in self._constants:
                        yield position, slot, tensor

    def constant(self, tensor: int) -> np.ndarray:
        """The value of constant tensor number `tensor` (a table; read-only)."""
        return self._constants[tensor]

    def _with_pinned_rows(self, machine: MachineConfig) -> MachineConfig:
        """The machine with its LLC less the lines pinned for the model's hot rows and remaps
        (the constants bound to HOT slots: loaded with the model, resident while it runs)."""
        pinned = {tensor: _placed_bytes(slot, self._constants[tensor], _text(slot.name))
                  for _, slot, tensor in self._constant_bindings() if slot.placement == HOT}
        total = sum(pinned.values())
        if not total:
            return machine
        if total > machine.pinnable_bytes:
            raise EmulationError(f"the model pins {total:,} bytes of hot rows and remaps in the LLC; machine "
                                 f"'{machine.name}' may pin {machine.pinnable_bytes:,} (pinned_llc_bytes)")
        return dataclasses.replace(machine, llc_bytes=machine.llc_bytes - total)

    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s.key: {"inputs": [m.name for m in s.inputs or []], "outputs": [m.name for m in s.outputs or []]}
                for s in self.model.signatureDefs or []}

    def get_signature_runner(self, signature_key: str | None = None) -> SignatureRunner:
        signatures = self.model.signatureDefs or []
        if not signatures:
            raise EmulationError("the model has no signatures")
        if signature_key is None:
            if len(signatures) > 1 and not any(s.key == "serving_default" for s in signatures):
                raise EmulationError(f"the model has {len(signatures)} signatures; choose one of "
                                     f"{', '.join(s.key for s in signatures)}")
            signature_key = "serving_default" if len(signatures) > 1 else signatures[0].key
        for signature in signatures:
            if signature.key == signature_key:
                return SignatureRunner(self, signature)
        raise EmulationError(f"no signature '{signature_key}' (the model has "
                             f"{', '.join(s.key for s in signatures)})")

    # -- execution ---------------------------------------------------------------
    def _run_subgraph(self, subgraph: fb.SubGraphT, values: dict[int, np.ndarray]) -> RunStats:
        values.update(self._constants)
        addresses = _AddressSpace()
        steps: list[KernelStats | HostStats] = []
        bookings: list[Booking] = []
        written: set[int] = set()       # tensors operators of this run wrote: in the LLC
        cores = self.machine.cores
        for wave in _independent_waves(subgraph.operators or []):
            if len(wave) == 1 and wave[0].kind == fb.OperatorKind.HOST_SEGMENT:
                steps.append(self._run_host_segment(wave[0], values, written))
                bookings.append(_booking(wave[0], steps[-1], 0, cores))
                continue
            # Operators of a wave share no tensors, so in fast mode (numba releases the GIL)
            # they are emulated on host threads at once (the schedule says when the modelled
            # machine runs them); preparing them in order keeps addresses deterministic.
            prepared = [self._prepare_kernel(op, values, addresses) for op in wave]
            if self.kernel_observer is not None:
                for job in prepared:
                    self._observe(subgraph, job)
            active = sharing_cores([(job.first_core, job.core_count, job.used_cores) for job in prepared])
            if self.mode == "fast" and len(prepared) > 1 and self.row_cache is None and not self.warm_llc:
                with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(prepared), os.cpu_count() or 1)) \
                        as pool:
                    wave_steps = list(pool.map(lambda job: self._execute_kernel(*job), zip(prepared, active)))
            else:
                wave_steps = [self._execute_kernel(job, n) for job, n in zip(prepared, active)]
            steps.extend(wave_steps)
            written.update(int(t) for job in prepared for t in job.op.outputs)
            bookings.extend(_booking(job.op, step, job.first_core, job.core_count)
                            for job, step in zip(prepared, wave_steps))
        schedule(cores, bookings)
        if self.warm_llc:
            self._remember_llc_lines()
        return RunStats.combine(self.machine, steps, self.mode, scheduled=True)

    def _remember_llc_lines(self) -> None:
        """The LLC's window of requests after this run: the latest llc_bytes / line_bytes."""
        window = self.machine.llc_bytes // self.machine.line_bytes
        lines = np.concatenate([self._llc_history.lines, *self._run_lines])[-window:]
        self._llc_history, self._run_lines = LlcHistory.of(lines), []

    def _observe(self, subgraph: fb.SubGraphT, job: _KernelJob) -> None:
        kernels = [op for op in subgraph.operators if op.kind == fb.OperatorKind.KERNEL]
        number = next(n for n, op in enumerate(kernels) if op is job.op)
        names = [_text(slot.name) for slot in job.program.kernel.slots or []]
        tensors = [int(t) for t in list(job.op.inputs) + list(job.op.outputs)]
        self.kernel_observer(number, job.program.name, dict(zip(names, job.arrays)), dict(zip(names, tensors)))

    def _run_host_segment(self, op: fb.OperatorT, values: dict[int, np.ndarray], written: set[int]) -> HostStats:
        """Runs a host segment; `written`: the tensors operators of this run wrote so far."""
        inputs, outputs = [int(t) for t in op.inputs], [int(t) for t in op.outputs]
        key = (int(op.index), tuple(inputs), tuple(outputs))
        if key not in self._host_segments:
            spec = self.model.hostSegments[op.index]
            ports = [Port(label, dtypes.numpy_dtype(self.model.tensors[t].dtype),
                          tuple(_signature_shape(self.model.tensors[t])))
                     for t, label in zip(inputs + outputs, self._labels(op))]
            kind = HloHostSegment if spec.format == fb.HostFormat.HLO_MODULE else HostSegment
            self._host_segments[key] = kind(spec, bytes(buffer_bytes(self.model.buffers[spec.buffer])),
                                                   ports[:len(inputs)], ports[len(inputs):])
        results, stats = self._host_segments[key].run([values[t] for t in inputs], self.machine,
                                                      [t in written for t in inputs])
        values.update(zip(outputs, results))
        written.update(outputs)
        return stats

    def _labels(self, op: fb.OperatorT) -> list[str]:
        names = {}
        for signature in self.model.signatureDefs or []:
            for m in signature.inputs or []:
                names.setdefault(m.tensor, f"input '{m.name}'")
        tensors = list(op.inputs) + list(op.outputs)
        return [names.get(int(t), f"tensor '{self.model.tensors[int(t)].name}'") for t in tensors]

    def _prepare_kernel(self, op: fb.OperatorT, values: dict[int, np.ndarray], addresses: "_AddressSpace") \
            -> _KernelJob:
        """Checks a kernel operator against the machine (its core range, its placed slots)
        and its inputs, allocates its outputs and gives its tensors addresses; returns what
        _execute_kernel needs."""
        program = self.kernels[op.index]
        machine = self.machine
        first_core, core_count = int(op.coreOffset or 0), int(op.coreCount or 0)
        if core_count == 0:
            first_core, core_count = 0, machine.cores
        elif first_core + core_count > machine.cores:
            last = first_core + core_count - 1
            raise EmulationError(f"kernel '{program.name}' is to run on cores {first_core}..{last} but machine "
                                 f"'{machine.name}' has {machine.cores} (0..{machine.cores - 1})")
        compiled_for = program.kernel.machine
        remedy = (f"it was compiled for '{_text(compiled_for.name)}': convert with --target={machine.name} to run "
                  f"on '{machine.name}', or run with --machine={_text(compiled_for.name)}")
        if program.roots and not machine.has_access_unit:
            raise EmulationError(f"kernel '{program.name}' needs an access unit; machine '{machine.name}' has none "
                                 f"({remedy})")
        if compiled_for.vectorBytes != machine.vector_bytes:
            raise EmulationError(f"kernel '{program.name}' was compiled for {compiled_for.vectorBytes}-byte vectors, "
                                 f"machine '{machine.name}' has {machine.vector_bytes} ({remedy})")
        inputs = [values[int(t)] for t in op.inputs]
        for t, array in zip(op.inputs, inputs):
            if int(t) in self._constants:
                _huge_pages_for(array)
        labels = self._labels(op)
        params = [_param(p, inputs, labels, program) for p in program.kernel.params or []]
        outputs = []
        for slot, tensor_index in zip(program.kernel.slots[len(inputs):], op.outputs):
            shape = [int(d) if d >= 0 else params[-int(d) - 1] for d in slot.shape]
            try:
                outputs.append(np.zeros(shape, dtype=dtypes.numpy_dtype(slot.dtype)))
            except (ValueError, MemoryError):  # a size read from an input element can be anything
                raise InputError(f"kernel '{program.name}': cannot allocate output '{slot.name}' of shape "
                                 f"{shape} ({dtypes.BY_CODE[slot.dtype].name})") from None
            values[int(tensor_index)] = outputs[-1]
        arrays = inputs + outputs
        address_map = AddressMap(
            base=np.array([addresses.base(int(t), a) for t, a in zip(list(op.inputs) + list(op.outputs), arrays)],
                          dtype=np.int64),
            itemsize=np.array([a.itemsize for a in arrays], dtype=np.int64),
            line_bytes=machine.line_bytes)
        copies = max(1, program.kernel.copies) if not program.roots else 1
        job = _KernelJob(op, program, arrays, params, labels, address_map, first_core, core_count,
                         _assign_roots(program, core_count), copies, {})
        job.placed = self._placed_slots(job)
        return job

    def _placed_slots(self, job: _KernelJob) -> dict[int, tuple[int, int, int]]:
        """The kernel's placed slots (kind and lines); checks that the machine has the memory
        they are placed in and that what each core reads from its scratchpad fits it."""
        machine, program, name = self.machine, job.program, job.program.name
        placed = {}
        for i, slot in enumerate(program.kernel.slots or []):
            kind = int(slot.placement or 0)
            if not kind:
                continue
            what, field = {SCRATCHPAD: ("scratchpad", "scratchpad_bytes"), BUFFER: ("buffer", "buffer_bytes"),
                           HOT: ("hot-row storage", "pinned_llc_bytes")}[kind]
            if not getattr(machine, field):
                raise EmulationError(f"kernel '{name}': slot '{program.slot_names[i]}' is placed in the {what}, "
                                     f"but machine '{machine.name}' has none ({field} = 0)")
            base, nbytes = int(job.address_map.base[i]), _placed_bytes(slot, job.arrays[i], name)
            placed[i] = (kind, base // machine.line_bytes, (base + nbytes - 1) // machine.line_bytes)
        scratchpad = [i for i, (kind, _, _) in placed.items() if kind == SCRATCHPAD]
        if scratchpad:
            runs = job.assignment if job.copies == 1 else [[]]   # copies all run the same program
            for core, roots in enumerate(runs):
                used = [i for i in scratchpad if i in _slots_used(program, roots)]
                total = sum(int(job.arrays[i].nbytes) for i in used)
                if total > machine.scratchpad_bytes:
                    slot = max(used, key=lambda i: job.arrays[i].nbytes)
                    raise EmulationError(
                        f"kernel '{name}': scratchpad slots of core {job.first_core + core} take {total:,} bytes "
                        f"(slot '{program.slot_names[slot]}': {job.arrays[slot].nbytes:,}), more than the "
                        f"{machine.scratchpad_bytes:,} bytes of scratchpad per core of machine '{machine.name}'")
        return placed

    def _core_placed(self, job: _KernelJob, roots, resident: bool = False) -> tuple[Placed, ...]:
        """The placed slots one core reads (its roots' loads and the core program's)."""
        if not job.placed:
            return ()
        used = _slots_used(job.program, roots)
        return tuple(Placed(kind, first, last, resident and kind == SCRATCHPAD)
                     for i, (kind, first, last) in sorted(job.placed.items()) if i in used)

    def _time_core(self, kernel, params, roots, run: int, active: int, placed: tuple[Placed, ...],
                   cached: tuple[CachedSlot, ...] = ()):
        """One core's run, timed. `run` numbers the runs of the kernel (0 first: the fast mode
        re-runs from zeroed outputs then); without placed or cached slots, timed in the fast
        mode's workspace as the kernel object does it."""
        if not placed and not cached and not self.warm_llc:
            return kernel.time_core(params, roots, run, active)
        activity = kernel.run_core(params, roots, run)
        served = self._cache_lookups(activity, cached) if cached else None
        timing = time_core(activity, self.machine, active, placed, served, self._llc_history)
        if self.warm_llc:
            self._run_lines.append(_llc_lines(activity, placed, None if served is None else served[0]))
        return timing

    def _cache_lookups(self, activity, cached: tuple[CachedSlot, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Which of the access unit's requests, then which of the core's loads, the row cache
        served (a core without an access unit loads the rows itself)."""
        line = self.machine.line_bytes
        au = self.row_cache.lookup(activity.au_line, cached, line)
        core = np.zeros(len(activity.access_line), bool)
        loads = ~activity.access_store
        core[loads] = self.row_cache.lookup(activity.access_line[loads], cached, line)
        return au, core

    def _cached_slots(self, job: _KernelJob) -> tuple[CachedSlot, ...]:
        """The kernel's table (its first slot) when the row cache holds that table's rows."""
        if self.row_cache is None or job.op.inputs is None or not len(job.op.inputs) or 0 in job.placed:
            return ()
        number = self.row_cache.table_number(int(job.op.inputs[0]))
        if number is None:
            return ()
        array, base = job.arrays[0], int(job.address_map.base[0])
        line = self.machine.line_bytes
        return (CachedSlot(base // line, (base + array.nbytes - 1) // line, base, array.nbytes // array.shape[0],
                           number),)

    def _execute_kernel(self, job: _KernelJob, active: int) -> KernelStats:
        machine, program = self.machine, job.program
        kernel = _MODES[self.mode]()(program, machine, job.arrays, job.labels, job.address_map,
                                     step_budget(job.arrays, self.max_instructions))
        if job.copies > 1:
            timings = self._execute_copies(job, kernel, active)
        else:
            cached = self._cached_slots(job)
            timings = [self._time_core(kernel, job.params, roots, core, active, self._core_placed(job, roots), cached)
                       for core, roots in enumerate(job.assignment)]
        if job.first_core:
            timings = [dataclasses.replace(t, core_id=job.first_core + t.core_id) for t in timings]
        stats = kernel_stats(program.name, machine, timings)
        stats.core_offset, stats.core_count, stats.active_cores = job.first_core, job.core_count, active
        return stats

    def _execute_copies(self, job: _KernelJob, kernel, active: int) -> list:
        """A kernel the cores split by themselves: copy c runs with its COPY params set to c,
        round-robin over the cores of its range; a core with several copies runs them in turn
        (its scratchpad slots stay loaded after the first)."""
        program, copies = job.program, job.copies
        used = min(job.core_count, copies)
        copy_params = [i for i, p in enumerate(program.kernel.params or []) if p.kind == fb.ParamKind.COPY]
        cached = self._cached_slots(job)
        timings = []
        for core in range(used):
            runs = []
            for copy in range(core, copies, used):
                own = list(job.params)
                for i in copy_params:
                    own[i] = copy
                # copies run one after another here: each its own run number (a fast-mode re-run
                # restores the outputs as that run found them)
                placed = self._core_placed(job, [], resident=copy != core)
                runs.append(self._time_core(kernel, own, [], copy, active, placed, cached))
            timings.append(one_after_another(core, runs))
        return timings


STEPS_PER_ELEMENT = 64
STEPS_BASE = 1 << 16


def step_budget(arrays, cap: int) -> int:
    """How many instructions a core, and how many loop iterations its access unit, may take
    on these tensors before the run counts as runaway (a fault, not a hang).

    A kernel's work is a few steps per element it reads or writes, and at most a few per
    row element for each integer element (an id, an offset, a segment id pools one row):
    64 steps per such element, plus 65,536, comfortably above every compiled kernel and
    far below the `cap` a user sets (Interpreter's max_instructions)."""
    row = max((a.size // a.shape[0] if a.ndim and a.shape[0] else a.size) for a in arrays) if arrays else 0
    integers = sum(a.size for a in arrays if a.dtype.kind in "iu")
    elements = sum(a.size for a in arrays)
    return int(min(cap, STEPS_PER_ELEMENT * ((integers + 1) * (row + 1) + elements) + STEPS_BASE))


def _independent_waves(operators) -> list[list[fb.OperatorT]]:
    """Consecutive kernel operators that share no tensor (none reads or writes what
    another writes) form a wave; a host segment is a wave of its own."""
    waves: list[list[fb.OperatorT]] = []
    written: set[int] = set()
    touched: set[int] = set()
    for op in operators:
        reads, writes = {int(t) for t in op.inputs}, {int(t) for t in op.outputs}
        joins = (waves and op.kind == fb.OperatorKind.KERNEL and waves[-1][0].kind == fb.OperatorKind.KERNEL
                 and not (reads & written) and not (writes & touched))
        if not joins:
            waves.append([])
            written, touched = set(), set()
        waves[-1].append(op)
        written |= writes
        touched |= reads | writes
    return waves


class _GoldenKernel:
    """One kernel bound to its tensors for golden-mode runs (fast.FastKernel's twin):
    time_core runs one core and times its activity."""

    def __init__(self, program: KernelProgram, machine: MachineConfig, arrays, labels, address_map: AddressMap,
                 max_instructions: int):
        self.program, self.machine, self.arrays = program, machine, arrays
        self.labels, self.address_map, self.max_instructions = labels, address_map, max_instructions

    def run_core(self, params, roots, core_id: int):
        return run_golden_core(self.program, self.machine, self.arrays, params, roots, self.labels,
                               self.address_map, core_id, self.max_instructions)

    def time_core(self, params, roots, core_id: int, active_cores: int):
        return time_core(self.run_core(params, roots, core_id), self.machine, active_cores)


def _fast_kernel():
    from ember_tf.emulator.fast import FastKernel  # numba compiles on first use

    return FastKernel


_MODES = {"golden": lambda: _GoldenKernel, "fast": _fast_kernel}


INT64_MAX = (1 << 63) - 1


def _param(param: fb.KernelParamT, inputs: list[np.ndarray], labels: list[str], program: KernelProgram) -> int:
    """A param's value: a dimension or an element of an input, plus `add`. Params size
    outputs and bound loops, so a negative value (or one past int64) is an input error."""
    if param.kind == fb.ParamKind.COPY:
        return 0   # set per copy when the kernel runs
    if param.slot >= len(inputs):
        raise EmulationError(f"kernel '{program.name}': a parameter reads output slot {param.slot}")
    array, label, add = inputs[param.slot], labels[param.slot], int(param.add)
    if param.kind == fb.ParamKind.ELEMENT:
        flat, element = array.reshape(-1), int(param.element)
        if not -flat.size <= element < flat.size:
            raise InputError(f"{label} has {flat.size} elements; kernel '{program.name}' reads its element "
                             f"{element}{' (from the end)' if element < 0 else ''}")
        base = int(flat[element])
        what = f"{label} has {base} at element {element}"
    else:
        base = int(array.shape[param.dim])
        what = f"{label} has {base} elements in dimension {param.dim}"
    value = base + add
    if value < 0:
        raise InputError(f"{what}; kernel '{program.name}' needs at least {-add}")
    if value > INT64_MAX:
        raise InputError(f"{what}; kernel '{program.name}' adds {add}, past the int64 range")
    return value


def _booking(op: fb.OperatorT, step, first_core: int, cores: int) -> Booking:
    return Booking(step, frozenset(int(t) for t in op.inputs), frozenset(int(t) for t in op.outputs), first_core,
                   cores)


def _slots_used(program: KernelProgram, roots) -> set[int]:
    """The slots a core reads or writes: those its roots' traversals load, and those its
    program names (every core runs the whole program)."""
    used = {ins.arg("slot") for ins in program.execute if any(o.kind is Kind.SLOT for o in ins.spec.operands)}
    pending = list(roots)
    while pending:
        tu = program.tus[pending.pop()]
        used.update(stream.slot for stream in tu.streams if stream.op == "mem")
        pending.extend(tu.children)
    return used


def _assign_roots(program: KernelProgram, cores: int) -> list[list[int]]:
    """Roots (independent traversals, e.g. one per table) round-robin over the cores.
    A kernel without an access unit runs on one core."""
    if not program.roots:
        return [[]]
    used = min(cores, len(program.roots))
    return [program.roots[c::used] for c in range(used)]


HUGE_PAGE_BYTES = 2 << 20
MAPPED_RANDOM_BYTES = 1 << 20   # constants mapped from the file from this size on are read without readahead
MADV_COLLAPSE = 25  # Linux 6.1 and later
_huge_page_ranges: set[tuple[int, int]] = set()   # asked for already (asking again costs ~70 us)
_huge_page_lock = threading.Lock()


def _huge_pages_for(array: np.ndarray) -> None:
    """Asks Linux to back a large constant (a table) with 2 MiB pages, once. Kernels gather
    its rows at random, and on 4 KiB pages nearly every row gathered costs a TLB miss
    (under a hypervisor a two-level page walk), which is a large part of the access
    unit's time on big tables. A hint about host memory only: the data and its address
    stay as they are, and where it is refused (another OS, an older kernel, no free huge
    pages) nothing changes."""
    if array.nbytes < 2 * HUGE_PAGE_BYTES or not sys.platform.startswith("linux"):
        return
    if read_only_mapping(array) is not None:
        return   # a table mapped from the file: Linux refuses to collapse it (and would read it all)
    start = -(-array.ctypes.data // HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES
    end = (array.ctypes.data + array.nbytes) // HUGE_PAGE_BYTES * HUGE_PAGE_BYTES
    with _huge_page_lock:
        if (start, end) in _huge_page_ranges:
            return
        _huge_page_ranges.add((start, end))
    try:
        madvise = ctypes.CDLL(None).madvise
    except (OSError, AttributeError):
        return
    madvise.argtypes, madvise.restype = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int], ctypes.c_int
    madvise(start, end - start, MADV_COLLAPSE)  # -1 (refused) changes nothing


class _AddressSpace:
    """Gives each tensor a page-aligned virtual address for the cache model."""

    def __init__(self):
        self.bases: dict[int, int] = {}
        self.next = PAGE

    def base(self, tensor: int, array: np.ndarray) -> int:
        if tensor not in self.bases:
            self.bases[tensor] = self.next
            self.next += math.ceil(max(array.nbytes, 1) / PAGE) * PAGE
        return self.bases[tensor]
