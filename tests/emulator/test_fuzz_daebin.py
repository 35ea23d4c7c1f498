"""Property-based fuzzing of the .daebin reader, verifier and both emulator modes: a real
program with bytes mutated is refused with the project's error, or it runs in golden and
fast mode with the same outputs (and the same error when it faults), within seconds, and
without touching the caller's input arrays. Inputs .npz files are fuzzed the same way
through `ember-tf run`'s loader.

CI runs a few dozen examples with a fixed seed; a long run (with what happened to them) is
    EMBER_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest tests/emulator/test_fuzz_daebin.py \\
        --hypothesis-show-statistics
"""

from __future__ import annotations

import io
import os
import pathlib
import resource
import signal
import time

import numpy as np
import pytest

from ember_tf import dae_isa
from ember_tf.emulator import Interpreter
from ember_tf.errors import EmberError

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "40"))
KERNELS = pathlib.Path(__file__).resolve().parents[2] / "kernels"
SECONDS = 10   # a run that takes longer is a hang
GROWTH_BYTES = 4 << 30   # peak resident memory may not grow more than this over the runs


def _peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # Linux reports KiB


def _inputs(name: str) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    if name.startswith("gather"):
        return {"ids": np.array([2, 0, 1, 2], np.int32)}
    return {"table": rng.standard_normal((30, 20)).astype(np.float32),
            "indices": rng.integers(0, 30, 17).astype(np.int32),
            "offsets": np.array([0, 3, 3, 9, 17], np.int32)}


PROGRAMS = {name: dae_isa.serialize_model(dae_isa.assemble((KERNELS / f"{name}.dasm").read_text()))
            for name in ("gather", "eb_sum", "eb_sum_cpu", "eb_weighted_mean")}


def _compiled() -> dict[str, int]:
    """How many specializations numba holds of each of the fast mode's compiled loops."""
    from numba.core.registry import CPUDispatcher

    from ember_tf.emulator import fast

    return {name: len(f.signatures) for name, f in vars(fast).items() if isinstance(f, CPUDispatcher)}


@pytest.fixture(scope="module")
def compiled_for_valid_programs() -> dict:
    """The specializations after every seed program ran in fast mode, which a mutated file must not
    add to (a compilation takes tens of seconds), and the peak memory then."""
    for name, content in PROGRAMS.items():
        machine = "cpu" if name.endswith("_cpu") else "tmu"   # the first run compiles: not timed
        Interpreter(model_content=content, machine=machine).get_signature_runner()(**_weighted(name, _inputs(name)))
    return {"compiled": _compiled(), "peak": _peak_bytes()}


def _weighted(name: str, feeds: dict) -> dict:
    if "weighted" in name:
        feeds = feeds | {"weights": np.linspace(-1, 2, len(feeds["indices"])).astype(np.float32)}
    return feeds


class _Hang(Exception):
    pass


def _alarm(signum, frame):
    raise _Hang()


def _run(content: bytes, machine: str, mode: str, feeds: dict):
    """(outputs, None) or (None, the error's message); a run over SECONDS fails the test (the
    alarm interrupts Python code, the clock catches compiled loops that end late)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(SECONDS)
    start = time.perf_counter()
    try:
        interpreter = Interpreter(model_content=content, machine=machine, mode=mode)
        return interpreter.get_signature_runner()(**feeds), None
    except EmberError as e:
        return None, str(e)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        assert time.perf_counter() - start < SECONDS, f"{mode} mode ran {time.perf_counter() - start:.1f} s"


@st.composite
def mutations(draw):
    name = draw(st.sampled_from(sorted(PROGRAMS)))
    positions = draw(st.lists(st.integers(0, len(PROGRAMS[name]) - 1), min_size=1, max_size=4))
    values = draw(st.lists(st.integers(0, 255), min_size=len(positions), max_size=len(positions)))
    return name, positions, values


@hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutation=mutations())
def test_a_mutated_program_is_refused_or_runs_alike_in_both_modes(compiled_for_valid_programs, mutation):
    name, positions, values = mutation
    data = bytearray(PROGRAMS[name])
    for at, value in zip(positions, values):
        data[at] = value
    try:
        dae_isa.model_from_buffer(bytes(data))
    except EmberError:
        hypothesis.event("refused by the reader")
        return
    machine = "cpu" if name.endswith("_cpu") else "tmu"
    feeds = _weighted(name, _inputs(name))
    before = {k: v.copy() for k, v in feeds.items()}
    golden, golden_error = _run(bytes(data), machine, "golden", feeds)
    fast, fast_error = _run(bytes(data), machine, "fast", feeds)
    for key, value in feeds.items():
        np.testing.assert_array_equal(value, before[key], err_msg=f"a run changed input {key}")
    assert _compiled() == compiled_for_valid_programs["compiled"], "a mutated file made numba compile"
    assert _peak_bytes() - compiled_for_valid_programs["peak"] < GROWTH_BYTES, "a run allocated past 4 GiB"
    assert (golden is None) == (fast is None), (golden_error, fast_error)
    if golden is None:
        hypothesis.event("faulted at run time")
        return
    hypothesis.event("ran")
    assert sorted(golden) == sorted(fast)
    for key in golden:
        np.testing.assert_array_equal(golden[key], fast[key], err_msg=key)


@st.composite
def npz_mutations(draw):
    raw = io.BytesIO()
    np.savez(raw, **_inputs("eb_sum"))
    data = bytearray(raw.getvalue())
    positions = draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=6))
    for at in positions:
        data[at] = draw(st.integers(0, 255))
    cut = draw(st.integers(len(data) // 2, len(data)))
    return bytes(data[:cut])


@hypothesis.settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(data=npz_mutations())
def test_a_mutated_inputs_file_is_refused_or_runs(tmp_path_factory, data):
    from ember_tf import cli

    path = tmp_path_factory.mktemp("npz") / "in.npz"
    path.write_bytes(data)
    try:
        feeds = cli._load_npz(str(path))
    except EmberError:
        hypothesis.event("refused by the loader")
        return
    outputs, error = _run(PROGRAMS["eb_sum"], "tmu", "fast", feeds)
    hypothesis.event("ran" if error is None else "refused by the runner")
