"""The facts about a machine the compiler needs: vector width, lanes, traversal
groups, register files and the limits a kernel must fit."""

from __future__ import annotations

import dataclasses

from ember_tf.machines import MachineConfig, load_machine


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    has_access_unit: bool
    lanes: int
    traversal_groups: int
    lane_storage_bytes: int
    outstanding_requests: int
    vector_bytes: int
    queue_chunk_bytes: int
    cores: int = 1               # traversals (or, without an access unit, copies) a kernel may be split into
    max_unroll: int = 8          # vector chunks a row may be unrolled into (and kept in registers)

    @staticmethod
    def from_machine(machine: MachineConfig | str) -> "Target":
        if isinstance(machine, str):
            machine = load_machine(machine)
        return Target(machine.name, machine.has_access_unit, machine.lanes, machine.traversal_groups,
                      machine.lane_storage_bytes, machine.outstanding_requests, machine.vector_bytes,
                      machine.queue_chunk_bytes, machine.cores)

    def vector_length(self, itemsize: int) -> int:
        return max(1, min(64, self.vector_bytes // itemsize))

    def machine_directive(self) -> str:
        return (f'.machine "{self.name}" lanes={self.lanes} traversal_groups={self.traversal_groups} '
                f'lane_storage_bytes={self.lane_storage_bytes} outstanding_requests={self.outstanding_requests} '
                f'vector_bytes={self.vector_bytes} queue_chunk_bytes={self.queue_chunk_bytes} '
                f'access_unit={"true" if self.has_access_unit else "false"}')
