"""The host-level planner both frontends use: only what the outputs need is live; a
value waits for as many kernel launches as its inputs do, plus one after a kernel; each
level's host values form one segment, run before that level's kernels."""

from __future__ import annotations

from ember_tf.frontend import assign_levels, interleave, live_values

#  ids -> prep -> k0 (kernel 0) -> mix -> k1 (kernel 1) -> out;  dead <- ids;  side <- prep
PREDS = {"ids": [], "prep": ["ids"], "k0": ["prep"], "mix": ["k0", "prep"], "k1": ["mix"], "out": ["k1", "side"],
         "side": ["prep"], "dead": ["ids"]}
KERNEL_OF = {"k0": 0, "k1": 1}
ORDER = ["ids", "prep", "k0", "side", "mix", "k1", "out", "dead"]


def test_levels_and_steps():
    live = live_values(["out"], PREDS.__getitem__)
    assert live == set(PREDS) - {"dead"}
    levels = assign_levels(live, ORDER, PREDS.__getitem__, KERNEL_OF)
    assert levels.level == {"ids": 0, "prep": 0, "k0": 1, "side": 0, "mix": 1, "k1": 2, "out": 2}
    assert levels.kernel_level == {0: 0, 1: 1} and levels.kernels == [0, 1]
    hosted = [n for n in ORDER if n in live and n not in KERNEL_OF and n != "ids"]
    steps = interleave(levels, hosted, lambda name, members: (name, members), lambda k: f"kernel {k}")
    assert steps == [("host_0", ["prep", "side"]), "kernel 0", ("host_1", ["mix"]), "kernel 1", ("host_2", ["out"])]


def test_a_dead_kernel_is_not_scheduled():
    preds = {"ids": [], "k0": ["ids"], "out": ["ids"]}
    live = live_values(["out"], preds.__getitem__)
    levels = assign_levels(live, ["ids", "k0", "out"], preds.__getitem__, {"k0": 0})
    assert levels.kernels == [] and interleave(levels, ["out"], lambda n, m: n, str) == ["host_0"]
