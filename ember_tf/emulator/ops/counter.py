"""Counters: Ember's get_var / increment_var, kept on the core (queue alignment)."""

from ember_tf.emulator.ops import handler


@handler("ctr.set")
def ctr_set(core, cd, imm):
    core.c[cd] = imm


@handler("ctr.inc")
def ctr_inc(core, cd, imm):
    core.c[cd] += imm


@handler("ctr.get")
def ctr_get(core, rd, ca):
    core.set_x(rd, core.c[ca])
