"""Ids outside their table fault with an EmberError naming the tensors involved
(no garbage result), on both machines, at every opt level, in both emulator modes.

On tmu the access unit checks every chained load and names where the id came from
and the table it indexes ("input 'ids': id 50 is out of range [0, 50) for input
'table'"); on cpu the compiled code has no explicit id check, so the core's bounds
check on the table's slot faults ("element 1000 outside slot 'table' (input 'table')
of 1000 elements")."""

from __future__ import annotations

import re

import pytest

from ember_tf.errors import EmberError, EmulationError
from tests.compiler.helpers import MACHINES, bag_inputs, gather_inputs, model, run, segment_inputs, spmm_inputs

# (operation, its inputs, the id input to break, the tensor those ids index); bags are weighted
CASES = {
    "gather-ids": ("gather", lambda dim: gather_inputs(4, dim), "ids", "table"),
    "bag-indices": ("bag", lambda dim: bag_inputs(4, dim, weighted=True), "indices", "table"),
    "segment-src": ("segment_sum", lambda dim: segment_inputs(4, dim), "src", "features"),
    "spmm-col": ("spmm_csr", lambda dim: spmm_inputs(4, dim), "col", "dense"),
}
BAD = ["rows", "rows+1000", "-1"]
DIM = 20


def bad_id(feeds: dict, table: str, bad: str) -> int:
    rows = len(feeds[table])
    return {"rows": rows, "rows+1000": rows + 1000, "-1": -1}[bad]


def broken(feeds: dict, key: str, table: str, bad: str, at: int) -> dict:
    out = dict(feeds, **{key: feeds[key].copy()})
    out[key][at] = bad_id(feeds, table, bad)
    return out


def check_message(message: str, machine: str, key: str, table: str, value: int, rows: int) -> None:
    if machine == "tmu":
        assert f"input '{key}': id {value} is out of range [0, {rows}) for input '{table}'" in message, message
    else:
        assert re.search(rf"element -?\d+ outside slot '{table}' \(input '{table}'\) of {rows * DIM} elements",
                         message), message


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("opt_level", [0, 1, 2, 3], ids=lambda o: f"O{o}")
@pytest.mark.parametrize("machine", MACHINES)
def test_out_of_range_id_faults(machine, opt_level, case, bad):
    op, make, key, table = CASES[case]
    feeds = make(DIM)
    data = model(op, DIM, machine, opt_level, weighted=(op == "bag"))
    for at in (0, len(feeds[key]) // 2, len(feeds[key]) - 1):   # first, middle and last id
        with pytest.raises(EmberError) as error:
            run(data, machine, broken(feeds, key, table, bad, at))
        check_message(str(error.value), machine, key, table, bad_id(feeds, table, bad), len(feeds[table]))


@pytest.mark.parametrize("machine", MACHINES)
@pytest.mark.parametrize("dim", [16, 37, 130], ids=lambda d: f"d{d}")
def test_last_row_is_in_range(machine, dim):
    """The row just inside the table (masked tail lanes included) does not fault."""
    feeds = gather_inputs(0, dim, rows=7)
    feeds["ids"][:] = 6
    for opt_level in (0, 3):
        got, _ = run(model("gather", dim, machine, opt_level), machine, feeds)
        assert (got == feeds["table"][6]).all()


@pytest.mark.parametrize("opt_level", [0, 3], ids=lambda o: f"O{o}")
@pytest.mark.parametrize("machine", MACHINES)
def test_segment_dst_outside_output_faults(machine, opt_level):
    """unsorted_segment_sum errors on a segment id outside [0, num_segments): so does the kernel."""
    feeds = segment_inputs(4, 20)
    data = model("segment_sum", 20, machine, opt_level)
    for bad in (len(feeds["features"]), -1):
        with pytest.raises(EmberError, match=r"outside slot 'out' \(tensor 'out'\)"):
            run(data, machine, broken(feeds, "dst", "features", "rows" if bad > 0 else "-1", 5))


@pytest.mark.parametrize("opt_level", [0, 3], ids=lambda o: f"O{o}")
def test_offsets_past_the_indices_fault(opt_level):
    """A last offset beyond len(indices) makes the bag loop read past the ids: the
    access unit faults naming indices (the position comes from the loop, so the
    source named is the kernel)."""
    feeds = bag_inputs(4, 20, weighted=False)
    feeds["offsets"] = feeds["offsets"].copy()
    feeds["offsets"][-1] += 3
    n = len(feeds["indices"])
    with pytest.raises(EmberError, match=rf"kernel 'eb_sum': id {n} is out of range \[0, {n}\) for input 'indices'"):
        run(model("bag", 20, "tmu", opt_level), "tmu", feeds)


@pytest.mark.parametrize("case", ["gather-ids", "bag-indices"])
@pytest.mark.parametrize("opt_level", [0, 3], ids=lambda o: f"O{o}")
@pytest.mark.parametrize("machine", MACHINES)
def test_golden_and_fast_fault_alike(machine, opt_level, case):
    op, make, key, table = CASES[case]
    feeds = make(DIM)
    data = model(op, DIM, machine, opt_level, weighted=(op == "bag"))
    feeds = broken(feeds, key, table, "rows", 5)
    messages = []
    for mode in ("golden", "fast"):
        with pytest.raises(EmulationError) as error:
            run(data, machine, feeds, mode=mode)
        messages.append(str(error.value))
    assert messages[0] == messages[1]
    check_message(messages[0], machine, key, table, len(feeds[table]), len(feeds[table]))
