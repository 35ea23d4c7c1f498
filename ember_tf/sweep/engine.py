"""The sweep driver: points with a cached record are skipped, the others run as Ray tasks
(a local Ray instance by default, or the cluster at an address) or one after another in this
process, and each record is cached as it arrives (one small JSON file per point, written
atomically), so a sweep stopped at any moment resumes where it was.

Ray retries a task whose worker process dies (`max_retries`); a point that fails in ember-tf
returns its error in its record instead of raising, so it is never retried and the sweep goes
on. The model files must be at the same path on every node of a cluster (a shared file
system); the machine files a point needs travel with it."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import pathlib
import socket
from typing import Iterator

from ember_tf.dae_isa.writer import write_files
from ember_tf.errors import SweepError
from ember_tf.sweep.points import Point
from ember_tf.sweep.run import PointResult, failed, sweep_point


@dataclasses.dataclass(frozen=True)
class RayOptions:
    address: str | None = None      # None: start a local Ray instance (ray.init(address="local"))
    num_cpus: int | None = None     # a local instance's CPUs, so at most this many points at once (None: all)
    max_retries: int = 3            # runs of a point whose worker died, after the first


@dataclasses.dataclass(frozen=True)
class SweepResult:
    records: list[dict]             # one per point, in the points' order
    cached: int                     # points whose record came from the cache
    ran: int                        # points run now
    failed: int                     # points whose record holds an error (cached or not)


class Progress:
    """What a driver is told as a sweep goes (this one says nothing)."""

    def start(self, points: int, cached: int, where: str) -> None:
        """Before any point runs: how many there are, how many were cached, where the rest run."""

    def record(self, point: Point, record: dict) -> None:
        """A point run now has its record."""


def run_sweep(points: list[Point], cache_dir: str | pathlib.Path, ray: RayOptions | None,
              progress: Progress = Progress()) -> SweepResult:
    """Every point's record; `ray=None` runs the points in this process, one after another."""
    cache = PointCache(cache_dir)
    records = {p.key: cache.get(p.key) for p in points}
    todo = [p for p in points if records[p.key] is None]
    with _serially(todo) if ray is None else _on_ray(todo, ray) as run:
        progress.start(len(points), len(points) - len(todo), _where(ray))
        for point, result in run:
            if result.final:
                cache.put(point.key, result.record)
            records[point.key] = result.record
            progress.record(point, result.record)
    ordered = [records[p.key] for p in points]
    return SweepResult(ordered, len(points) - len(todo), len(todo), sum(r["error"] is not None for r in ordered))


def _where(ray: RayOptions | None) -> str:
    if ray is None:
        return "in this process"
    if ray.address is None:
        return f"on a local Ray instance ({ray.num_cpus or 'all'} CPUs)"
    return f"on the Ray cluster at {ray.address}"


class PointCache:
    """`<dir>/<key>.json` per completed point; an unreadable entry counts as absent."""

    def __init__(self, folder: str | pathlib.Path):
        self.folder = pathlib.Path(folder)

    def get(self, key: str) -> dict | None:
        try:
            return json.loads((self.folder / f"{key}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def put(self, key: str, record: dict) -> None:
        path = self.folder / f"{key}.json"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)    # on the first result: a sweep that fails leaves none
            write_files({path: lambda f: f.write(json.dumps(record, sort_keys=True).encode())})
        except OSError as e:
            raise SweepError(f"{path}: cannot write: {e.strerror or e}") from None


@contextlib.contextmanager
def _serially(points: list[Point]) -> Iterator[Iterator[tuple[Point, PointResult]]]:
    yield ((point, sweep_point(point)) for point in points)


@contextlib.contextmanager
def _on_ray(points: list[Point], options: RayOptions) -> Iterator[Iterator[tuple[Point, PointResult]]]:
    """Ray started (or joined) on entry, so a cluster that cannot be reached fails before
    anything is said about running; the points' results as they arrive; Ray shut down on exit."""
    if not points:
        yield iter(())      # nothing to run: no Ray (a rerun of a finished sweep needs no cluster)
        return
    import ray

    _start_ray(ray, options)
    try:
        yield _results(ray, points, options.max_retries)
    finally:
        ray.shutdown()


def _results(ray, points: list[Point], max_retries: int) -> Iterator[tuple[Point, PointResult]]:
    task = ray.remote(num_cpus=1, max_retries=max_retries)(sweep_point)   # never retry_exceptions
    pending = {task.remote(point): point for point in points}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=min(len(pending), 64), timeout=1.0)
        for ref in done:
            point = pending.pop(ref)
            try:
                result = ray.get(ref)
            except ray.exceptions.RayError as e:    # its worker died more often than retried, ...
                result = failed(point, f"ray: {type(e).__name__}: {_first_line(str(e))}")
            yield point, result


def _start_ray(ray, options: RayOptions) -> None:
    local = options.address is None
    if not local:
        _check_reachable(options.address)
    try:
        ray.init(address="local" if local else options.address, num_cpus=options.num_cpus if local else None,
                 include_dashboard=False if local else None, log_to_driver=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as e:
        cause = e.__cause__ or e
        where = "a local Ray instance" if local else f"the Ray cluster at {options.address}"
        raise SweepError(f"cannot start {where}: {type(cause).__name__}: {_first_line(str(cause))}") from None


def _check_reachable(address: str) -> None:
    """ray.init keeps retrying an address where nothing listens (for many minutes, logging
    every few seconds): one TCP connection first makes that one line."""
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not colon or not port.isdigit():
        return          # "auto" and the like: Ray's own lookup
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as e:
        raise SweepError(f"cannot reach the Ray cluster at {address}: {e.strerror or e}") from None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text
