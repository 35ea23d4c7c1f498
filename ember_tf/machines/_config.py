"""Machine configurations: named TOML files (*.toml beside this module) or any path,
with per-parameter overrides from the command line."""

from __future__ import annotations

import dataclasses
import pathlib
import tomllib

from ember_tf.errors import MachineError

MACHINES_DIR = pathlib.Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class CoreCosts:
    """Cycles per instruction by opcode group (see opcodes.py groups)."""

    control: float
    queue: float
    integer: float
    float: float
    counter: float
    memory: float
    vector: float
    buffer: float


@dataclasses.dataclass(frozen=True)
class MachineConfig:
    name: str
    has_access_unit: bool
    clock_ghz: float
    cores: int
    dram_bandwidth_gbps: float
    dram_latency_ns: float
    line_bytes: int
    llc_bytes: int
    llc_latency_ns: float
    l1_bytes: int
    l1_latency_cycles: int
    lanes: int
    traversal_groups: int
    lane_storage_bytes: int
    outstanding_requests: int
    queue_chunk_bytes: int
    queue_chunks: int
    au_elements_per_lane_cycle: float
    vector_bytes: int
    mlp: int
    callback_dispatch_cycles: float
    matrix_flops_per_cycle: float   # per core; host segments (emulator/host.py)
    host_launch_cycles: float       # fixed cost of starting a host segment
    costs: CoreCosts
    kernel_launch_cycles: float = 0.0   # fixed cost of starting a kernel (a GPU's launch; 0 on the DAE machines)
    # Core-local memories a kernel's READ slots may be placed in (KernelSlot.placement; the
    # timing model, docs/EMULATOR.md "Placement"): a scratchpad per core, a unified buffer per
    # core beside the vector unit (0 bytes: the machine has none), and the DMA engine of each
    # core that fills them from DRAM (it shares the DRAM bandwidth with everything else).
    scratchpad_bytes: int = 0
    scratchpad_latency_cycles: float = 0.0
    buffer_bytes: int = 0
    buffer_latency_cycles: float = 0.0
    dma_bandwidth_gbps: float = 0.0
    # Hot-row storage (KernelSlot placement HOT: profile-guided hot rows and their remaps,
    # docs/HOT_ROWS.md): the largest region of the LLC that may be pinned for them. Pinned lines
    # always hit, at the LLC's latency; what is pinned is taken from the LLC's capacity for the
    # rest. 0: the machine cannot pin (hot rows are refused).
    pinned_llc_bytes: int = 0

    # Derived figures, in cycles and bytes per cycle.
    @property
    def pinnable_bytes(self) -> int:
        """What may be pinned: pinned_llc_bytes, or the whole LLC when that is smaller."""
        return min(self.pinned_llc_bytes, self.llc_bytes)

    @property
    def dram_bytes_per_cycle(self) -> float:
        return self.dram_bandwidth_gbps / self.clock_ghz

    @property
    def dram_latency_cycles(self) -> float:
        return self.dram_latency_ns * self.clock_ghz

    @property
    def llc_latency_cycles(self) -> float:
        return self.llc_latency_ns * self.clock_ghz

    @property
    def dma_bytes_per_cycle(self) -> float:
        return self.dma_bandwidth_gbps / self.clock_ghz

    def written_back_lines(self, stored: int, read_from_dram: int, active_cores: int) -> int:
        """Of the `stored` distinct lines a core wrote while it read `read_from_dram` lines, how
        many the LLC writes back to DRAM during the run. The LLC is write-back and
        write-allocate (a whole line written needs no read), and a core has its share of it
        (llc_bytes / active cores): every line allocated -- read from DRAM or stored -- evicts the
        oldest once the share is full, and a stored line reaches DRAM when it is evicted. Stored
        lines are spread over the run, so they are evicted in the proportion all allocations
        are. What is still in the LLC at the end is read from there by the operation that
        consumes it (the dense layers), as on any machine with a write-back cache."""
        share = self.llc_bytes // self.line_bytes // max(1, active_cores)
        allocated = stored + read_from_dram
        if allocated <= share or stored == 0:
            return 0
        return round(stored * (allocated - share) / allocated)

    def host_dram_bytes(self, constant_bytes: int, fetched_bytes: int, resident_bytes: int, output_bytes: int) -> int:
        """DRAM bytes of a host segment (the dense layers on the matrix units): its constants and
        the inputs that come from outside the run (`fetched_bytes`: the request's tensors) are
        read from DRAM; inputs an earlier operator of the run wrote (`resident_bytes`) and its
        outputs stay in the write-back LLC, except what of them exceeds its capacity."""
        return constant_bytes + fetched_bytes + max(0, resident_bytes + output_bytes - self.llc_bytes)

    def with_overrides(self, **overrides) -> "MachineConfig":
        """A copy with some parameters replaced (None values are ignored)."""
        fields = {f.name for f in dataclasses.fields(self)}
        changes = {k: v for k, v in overrides.items() if v is not None}
        costs = {k[len("cost_"):]: v for k, v in changes.items() if k.startswith("cost_")}
        if costs:
            unknown_costs = set(costs) - {f.name for f in dataclasses.fields(CoreCosts)}
            if unknown_costs:
                raise MachineError(f"unknown instruction group(s): {', '.join(sorted(unknown_costs))}")
            changes = {k: v for k, v in changes.items() if not k.startswith("cost_")}
            changes["costs"] = dataclasses.replace(self.costs, **{k: float(v) for k, v in costs.items()})
        unknown = set(changes) - fields
        if unknown:
            raise MachineError(f"unknown machine parameter(s): {', '.join(sorted(unknown))}")
        machine = dataclasses.replace(self, **{k: v if k == "costs" else type(getattr(self, k))(v)
                                               for k, v in changes.items()})
        machine.validate(f"machine '{self.name}'")
        return machine

    def validate(self, where: str) -> None:
        positive = ("clock_ghz", "cores", "dram_bandwidth_gbps", "dram_latency_ns", "line_bytes", "lanes",
                    "traversal_groups", "outstanding_requests", "queue_chunk_bytes", "queue_chunks",
                    "au_elements_per_lane_cycle", "vector_bytes", "mlp", "matrix_flops_per_cycle")
        for name in positive:
            if getattr(self, name) <= 0:
                raise MachineError(f"{where}: {name} must be positive, not {getattr(self, name)}")
        for name in ("host_launch_cycles", "kernel_launch_cycles", "callback_dispatch_cycles", "scratchpad_bytes",
                     "scratchpad_latency_cycles", "buffer_bytes", "buffer_latency_cycles", "dma_bandwidth_gbps", "pinned_llc_bytes"):
            if getattr(self, name) < 0:
                raise MachineError(f"{where}: {name} must not be negative, not {getattr(self, name)}")
        for name in ("scratchpad_bytes", "buffer_bytes"):
            if getattr(self, name) and self.dma_bandwidth_gbps <= 0:
                raise MachineError(f"{where}: {name} = {getattr(self, name)} needs a DMA engine to fill it "
                                   f"(dma_bandwidth_gbps > 0)")
        if 0 < self.buffer_bytes < self.line_bytes:
            raise MachineError(f"{where}: buffer_bytes ({self.buffer_bytes}) must hold at least one "
                               f"{self.line_bytes}-byte line")
        if self.vector_bytes % 8:
            raise MachineError(f"{where}: vector_bytes must be a multiple of 8")
        if self.line_bytes & (self.line_bytes - 1):
            raise MachineError(f"{where}: line_bytes must be a power of two, not {self.line_bytes}")


def load_machine(name_or_path: str) -> MachineConfig:
    """`tmu`, `cpu`, `gpu` (files shipped in ember_tf/machines/) or the path of a TOML file."""
    path = pathlib.Path(name_or_path)
    if not path.suffix:
        path = MACHINES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            known = ", ".join(sorted(p.stem for p in MACHINES_DIR.glob("*.toml")))
            raise MachineError(f"unknown machine '{name_or_path}' (known: {known}, or a path to a .toml file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise MachineError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise MachineError(f"{path}: {e}") from None
    try:
        costs = CoreCosts(**data.pop("costs"))
        machine = MachineConfig(costs=costs, **data)
    except (TypeError, KeyError) as e:
        raise MachineError(f"{path}: {e}") from None
    machine.validate(str(path))
    return machine
