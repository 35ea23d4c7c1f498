"""Tables are views of the memory-mapped .daebin, never copies: a run makes resident only
the pages of the rows it reads (no readahead around them), so a model with many GiB of
tables emulates in memory that follows its batch."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from ember_tf import Interpreter, dae_isa
from ember_tf.dae_isa.mapped import read_only_mapping
from tests.dae_isa.test_external_buffers import DIM, THRESHOLD, gather_model

ROWS = (64 << 20) // (DIM * 4)   # 64 MiB of table


def _resident(path) -> tuple[int, list[str]]:
    """Bytes of `path` resident in this process (its mappings' Rss) and the mappings' VmFlags."""
    rss, flags, current = 0, [], False
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if "-" in fields[0] and len(fields) >= 5 and ":" in fields[3]:
                current = len(fields) >= 6 and fields[5] == str(path)
            elif current and fields[0] == "Rss:":
                rss += int(fields[1]) * 1024
            elif current and fields[0] == "VmFlags:":
                flags.append(" ".join(fields[1:]))
    return rss, flags


@pytest.fixture(scope="module")
def big_model(tmp_path_factory):
    table = np.zeros((ROWS, DIM), np.float32)    # untouched pages: no memory until written
    table[::997] = np.arange(DIM, dtype=np.float32)
    path = tmp_path_factory.mktemp("mapped") / "big.daebin"
    dae_isa.write_model(gather_model(table=table), path, external_threshold=THRESHOLD)
    return path


def test_constants_are_read_only_views_of_the_mapped_file(big_model):
    interpreter = Interpreter(model_path=big_model)
    table = interpreter._constants[1]
    assert table.shape == (ROWS, DIM) and not table.flags.writeable
    assert read_only_mapping(table) is not None   # a view of the file's mmap, not a copy
    assert np.shares_memory(table, interpreter.model.buffers[1].data)


def test_inline_constants_are_views_too(tmp_path):
    path = tmp_path / "small.daebin"
    dae_isa.write_model(gather_model(), path)    # under the default threshold: inside the FlatBuffer
    interpreter = Interpreter(model_path=path)
    assert read_only_mapping(interpreter._constants[1]) is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/smaps")
@pytest.mark.parametrize("mode", ["fast", "golden"])
def test_a_run_makes_resident_only_the_rows_it_reads(big_model, mode):
    interpreter = Interpreter(model_path=big_model, mode=mode)
    ids = np.random.default_rng(0).integers(0, ROWS, 100).astype(np.int32)
    out = interpreter.get_signature_runner()(ids=ids)["out"]
    expected = np.where((ids % 997 == 0)[:, None], np.arange(DIM, dtype=np.float32), 0.0)
    np.testing.assert_array_equal(out, expected)
    rss, flags = _resident(big_model)
    assert any("rr" in f.split() for f in flags), flags      # MADV_RANDOM: no readahead around a row
    assert rss <= 100 * (64 << 10) + (1 << 20), rss          # far below the 64 MiB table
