"""halt, jumps and branches, callback pop and dispatch."""

from ember_tf.emulator.ops import handler


@handler("halt")
def halt(core):
    core.halted = True
    return core.pc


@handler("jmp")
def jmp(core, target):
    return target


@handler("beq")
def beq(core, a, b, target):
    return target if core.x[a] == core.x[b] else None


@handler("bne")
def bne(core, a, b, target):
    return target if core.x[a] != core.x[b] else None


@handler("blt")
def blt(core, a, b, target):
    return target if core.x[a] < core.x[b] else None


@handler("bge")
def bge(core, a, b, target):
    return target if core.x[a] >= core.x[b] else None


@handler("cb.pop")
def cb_pop(core, rd):
    core.set_x(rd, core.queues.pop_token())


@handler("br.tab")
def br_tab(core, rid, table):
    targets = core.program.jump_tables[table]
    callback = core.x[rid]
    if not 0 <= callback < len(targets):
        core.fault(f"callback id {callback} has no entry in jump table jt{table}")
    return int(targets[callback])
