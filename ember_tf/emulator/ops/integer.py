"""64-bit integer arithmetic on x registers (wrapping, as two's complement)."""

from ember_tf.emulator.ops import handler


@handler("li")
def li(core, rd, imm):
    core.set_x(rd, imm)


@handler("lc")
def lc(core, rd, k):
    core.set_x(rd, int(core.program.int_constants[k]))


@handler("param")
def param(core, rd, p):
    core.set_x(rd, core.params[p])


@handler("mov")
def mov(core, rd, ra):
    core.set_x(rd, core.x[ra])


def _div(core, a, b):
    if b == 0:
        core.fault("integer division by zero")
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


_BINARY = {
    "add": lambda core, a, b: a + b,
    "sub": lambda core, a, b: a - b,
    "mul": lambda core, a, b: a * b,
    "div": _div,
    "rem": lambda core, a, b: a - _div(core, a, b) * b,
    "and": lambda core, a, b: a & b,
    "or": lambda core, a, b: a | b,
    "xor": lambda core, a, b: a ^ b,
    "shl": lambda core, a, b: a << (b & 63),
    "shr": lambda core, a, b: a >> (b & 63),
    "slt": lambda core, a, b: int(a < b),
    "min": lambda core, a, b: min(a, b),
    "max": lambda core, a, b: max(a, b),
}


def _binary(name):
    fn = _BINARY[name]

    @handler(name)
    def run(core, rd, ra, rb):
        core.set_x(rd, fn(core, core.x[ra], core.x[rb]))

    return run


for _name in _BINARY:
    _binary(_name)


@handler("addi")
def addi(core, rd, ra, imm):
    core.set_x(rd, core.x[ra] + imm)


@handler("muli")
def muli(core, rd, ra, imm):
    core.set_x(rd, core.x[ra] * imm)
