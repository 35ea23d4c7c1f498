"""Property tests: random shapes, bag lengths, combiners, weights and opt levels,
drawn from one seeded Generator at collection (so every run checks the same cases
and each case's id says what it is), compiled for tmu and compared with the
reference."""

from __future__ import annotations

import numpy as np
import pytest

from tests.compiler.helpers import COMBINERS, bag_reference, model, run
from tests.reference import embedding_ops as ref

TOL = dict(rtol=1e-6, atol=1e-6)


def draw_bag_cases(seed: int = 20240607, count: int = 20) -> list[dict]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        sizes = rng.integers(0, 7, int(rng.integers(1, 11)))     # bag lengths in [0, 6]
        sizes[rng.integers(0, len(sizes))] = 0                    # always an empty bag
        cases.append(dict(dim=int(rng.integers(1, 141)), rows=int(rng.integers(1, 81)),
                          sizes=tuple(int(s) for s in sizes), combiner=str(rng.choice(COMBINERS)),
                          weighted=bool(rng.integers(0, 2)), opt_level=int(rng.integers(0, 4)),
                          seed=int(rng.integers(0, 2 ** 31))))
    return cases


BAG_CASES = draw_bag_cases()


def case_id(c: dict) -> str:
    return (f"d{c['dim']}-r{c['rows']}-B{len(c['sizes'])}-{'w' if c['weighted'] else ''}{c['combiner']}"
            f"-O{c['opt_level']}")


def test_the_draw_covers_the_space():
    assert len(BAG_CASES) == 20
    assert {c["opt_level"] for c in BAG_CASES} == {0, 1, 2, 3}
    assert {c["combiner"] for c in BAG_CASES} == set(COMBINERS)
    assert {c["weighted"] for c in BAG_CASES} == {False, True}
    assert any(c["dim"] % 16 for c in BAG_CASES) and any(c["dim"] > 128 for c in BAG_CASES)


@pytest.mark.parametrize("case", BAG_CASES, ids=[case_id(c) for c in BAG_CASES])
def test_random_bags(case):
    rng = np.random.default_rng(case["seed"])
    dim, rows, sizes = case["dim"], case["rows"], case["sizes"]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int32)
    feeds = {"table": rng.standard_normal((rows, dim)).astype(np.float32),
             "indices": rng.integers(0, rows, int(offsets[-1])).astype(np.int32), "offsets": offsets}
    if case["weighted"]:
        weights = rng.uniform(0.25, 2.0, int(offsets[-1]))
        weights[rng.random(len(weights)) < 0.2] = 0.0              # some zero weights
        feeds["weights"] = weights.astype(np.float32)
    data = model("bag", dim, "tmu", case["opt_level"], case["combiner"], case["weighted"])
    got, _ = run(data, "tmu", feeds)
    want = bag_reference(feeds, case["combiner"])
    assert got.shape == want.shape == (len(sizes), dim)
    np.testing.assert_allclose(got, want, **TOL)


def draw_other_cases(seed: int = 7, count: int = 12) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [dict(op=str(rng.choice(["gather", "segment_sum", "spmm_csr"])), dim=int(rng.integers(1, 141)),
                 machine=str(rng.choice(["tmu", "cpu"])), opt_level=int(rng.integers(0, 4)),
                 n=int(rng.integers(0, 30)), rows=int(rng.integers(1, 60)), seed=int(rng.integers(0, 2 ** 31)))
            for _ in range(count)]


OTHER_CASES = draw_other_cases()


@pytest.mark.parametrize("case", OTHER_CASES,
                         ids=[f"{c['op']}-d{c['dim']}-n{c['n']}-{c['machine']}-O{c['opt_level']}" for c in OTHER_CASES])
def test_random_gathers_and_graphs(case):
    rng = np.random.default_rng(case["seed"])
    op, dim, rows, n = case["op"], case["dim"], case["rows"], case["n"]
    data = model(op, dim, case["machine"], case["opt_level"])
    table = rng.standard_normal((rows, dim)).astype(np.float32)
    ids = rng.integers(0, rows, n).astype(np.int32)
    if op == "gather":
        got, _ = run(data, case["machine"], {"table": table, "ids": ids})
        assert np.array_equal(got, ref.gather(table, ids))
    elif op == "segment_sum":
        dst = rng.integers(0, rows, n).astype(np.int32)
        got, _ = run(data, case["machine"], {"features": table, "src": ids, "dst": dst})
        np.testing.assert_allclose(got, ref.message_passing(table, ids, dst), **TOL)
    else:
        splits = np.sort(rng.integers(0, n + 1, int(rng.integers(1, 8))))
        splits = np.concatenate([[0], splits, [n]]).astype(np.int32)
        val = rng.standard_normal(n).astype(np.float32)
        got, _ = run(data, case["machine"], {"dense": table, "row_splits": splits, "col": ids, "val": val})
        np.testing.assert_allclose(got, ref.spmm_csr(splits, ids, val, table), **TOL)
