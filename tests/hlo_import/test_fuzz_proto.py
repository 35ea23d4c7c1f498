"""Property-based fuzzing of the HloModuleProto reader (`ember_tf.hlo.proto.read_module_proto`):
a valid module's serialized proto with a few random edits either fails with one of the
project's errors (EmberError: the CLI's one-line message), or reads to a Module that
evaluates, converts and runs or fails the same way (test_fuzz.py's `check_module`),
never anything else; and no run ever changes the caller's input arrays.

Edits are of two kinds: bytes (1-4 bytes overwritten, a truncation, a span deleted or
duplicated) and messages (the proto parsed with the reader's own hlo_pb2, one field of an
instruction or computation changed: opcode, operand and callee ids, shape dimensions
(0, -1, 2**40, a rank of 33 or 70, an empty but vast shape) and element types, any integer,
flag or string of the instruction and of the attribute messages its opcode reads, entries
removed from any repeated field, a constant's values, instruction and computation ids, the
root, the entry, the order; then serialized again). A constant's values follow half of its
shape edits, so that the reader gets past the count check to building the array.

The seeds are test_fuzz.py's SEEDS as XLA parses them, plus tests/hlo/test_proto.py's
HAND_WRITTEN (convolution, custom-call, rng, topk, ...: the attributes only the proto
reader renders), frozen as tests/hlo_import/proto_seeds/<name>.pb (regenerate with
`.venv/bin/python tools/make_hlo_proto_seeds.py`); a test checks that each reads to the
Module its text parses to.

CI runs a fixed-seed set of examples (derandomize=True) in about 10 s; a long run is
    EMBER_FUZZ_EXAMPLES=3000 .venv/bin/python -m pytest tests/hlo_import/test_fuzz_proto.py \\
        --hypothesis-show-statistics
(`hypothesis.event` counts the edits and the outcomes). It uses test_fuzz.py's lowered
verifier limit (64 MiB) and a while-loop limit of 1,000 iterations (an edited loop counter
runs to the limit, and 10,000 took 3 of the deadline's 5 s). The regression tests at the
end are the minimal edits of the crashes the long runs found."""

from __future__ import annotations

import copy
import datetime
import math
import os
import pathlib

import pytest

from ember_tf.errors import EmberError
from ember_tf.hlo.evaluator import SUPPORTED_OPCODES
from ember_tf.hlo.errors import HloParseError
from tests.hlo_import.test_fuzz import SEEDS, check_module, small_limits  # noqa: F401 (a fixture)

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "1000"))
WHILE_ITERATIONS = 1_000        # see the docstring
SEED_DIR = pathlib.Path(__file__).parent / "proto_seeds"
SKIPPED_SEEDS: frozenset[str] = frozenset()          # SEEDS jaxlib cannot parse (none today)
PROTO_ONLY_SEEDS = frozenset({"proto_hand_written"})  # tests/hlo/test_proto.py's HAND_WRITTEN
SEED_BYTES = {p.stem: p.read_bytes() for p in sorted(SEED_DIR.glob("*.pb"))}
# XLA gives instructions module-unique names and, in these, reorders a computation's
# instructions; their protos match the text as XLA prints it, not as written
RENAMED_BY_XLA = frozenset({"branches", "map", "sort", "proto_hand_written"})


def _pb2():
    from ember_tf.hlo.proto import _protos

    return _protos()


def read(data: bytes, source: str = "fuzz.pb"):
    from ember_tf.hlo.proto import read_module_proto

    return read_module_proto(data, source)


# -- byte edits ----------------------------------------------------------------------------------

BYTE_KINDS = ("overwrite", "overwrite", "truncate", "delete", "duplicate")
_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x08, 0x0A, 0x10, 0x12, 0x1A, 0x22, 0x2A)


def mutate_bytes(data: bytes, edits) -> bytes:
    """`edits` are (kind, a, b, c) with a, b, c >= 0 picking the spot, length and value."""
    for kind, a, b, c in edits:
        if not data:
            break
        at = a % len(data)
        if kind == "overwrite":
            n = 1 + b % 4
            new = bytes(_BYTES[(c >> (3 * k)) % len(_BYTES)] if (c >> k) & 1 else (c >> (8 * k)) & 0xFF
                        for k in range(n))
            data = data[:at] + new + data[at + n:]
        elif kind == "truncate":
            data = data[:at]
        elif kind == "delete":
            data = data[:at] + data[at + 1 + b % 64:]
        elif kind == "duplicate":
            span = data[at:at + 1 + b % 64]
            data = data[:at] + span + data[at:]
    return data


# -- message edits -------------------------------------------------------------------------------

MESSAGE_KINDS = ("opcode", "operand", "callee", "dimension", "dimension", "element_type", "remove", "integer",
                 "integer", "integer", "flag_or_string", "literal", "instruction_id", "root", "entry", "structure")
# the evaluator's opcodes, XLA opcodes the reader renders attributes for, and nonsense
OPCODES = sorted(SUPPORTED_OPCODES) + ["select-and-scatter", "convolution", "custom-call", "rng",
                                       "rng-bit-generator", "fft", "topk", "batch-norm-inference",
                                       "get-dimension-size", "set-dimension-size", "all-reduce", "after-all",
                                       "", "no-such-opcode"]
UNKNOWN_ID = 987654321
HUGE = 1 << 40
DIMENSIONS = (0, -1, HUGE, 1, 3, 1 << 31, (1 << 31) + 1)
# fields of no value (the reader ignores them): not worth an example's edit
_IGNORED = frozenset({"metadata", "frontend_attributes", "statistics_viz", "sharding", "backend_config",
                      "original_value", "precision_config", "layout", "tail_padding_alignment_in_elements",
                      "program_shape", "id"})
# integers the reader reads (or renders) even at their default of 0
_READ = ("parameter_number", "tuple_index", "feature_group_count", "batch_group_count", "exponent_bits",
         "mantissa_bits", "distribution", "rng_algorithm", "fft_type", "k", "feature_index",
         "custom_call_api_version")
# the attribute messages an opcode's rendering reads, edited even when absent
_ATTRIBUTE_MESSAGES = {
    "convolution": ("window", "convolution_dimension_numbers"),
    "custom-call": ("window", "convolution_dimension_numbers"),
    "reduce-window": ("window",), "select-and-scatter": ("window",), "pad": ("padding_config",),
    "gather": ("gather_dimension_numbers",), "scatter": ("scatter_dimension_numbers",),
    "dot": ("dot_dimension_numbers",), "slice": ("slice_dimensions",),
}


def _instructions(module):
    return [(c, i) for c in module.computations for i in c.instructions]


def _pick(items, n):
    return items[n % len(items)] if items else None


def _pick_instruction(module, a: int):
    """An opcode of the module, then one of its instructions (so a rare opcode is as likely
    to be edited as `parameter`)."""
    pairs = _instructions(module)
    opcodes = sorted({i.opcode for _, i in pairs})
    if not opcodes:
        return None, None
    opcode = opcodes[a % len(opcodes)]
    return _pick([p for p in pairs if p[1].opcode == opcode], a // len(opcodes))


def _array_shapes(shape):
    """The shape and its tuple elements, depth first."""
    out = [shape]
    for s in shape.tuple_shapes:
        out += _array_shapes(s)
    return out


def _integers(value: int) -> list[int]:
    return [0, 1, -1, 2, value + 1, value - 1, 2 * value, 7, HUGE, -HUGE, (1 << 31) - 1, 1 << 31,
            (1 << 63) - 1, -(1 << 63)]


def _fit(value: int, field) -> int:
    """`value` clamped to the field's integer type (a proto3 enum takes any int32)."""
    from google.protobuf.descriptor import FieldDescriptor as F

    bits = {F.CPPTYPE_INT32: 31, F.CPPTYPE_ENUM: 31, F.CPPTYPE_INT64: 63}.get(field.cpp_type)
    if bits is not None:
        return max(-(1 << bits), min((1 << bits) - 1, value))
    bits = 32 if field.cpp_type == F.CPPTYPE_UINT32 else 64
    return max(0, min((1 << bits) - 1, value))


class _Spot:
    """One scalar to change: field `field` of the message `get()` returns (made on demand,
    so that listing spots changes nothing), entry `index` of a repeated field, or a new
    entry when index is "append"."""

    def __init__(self, get, field, index=None):
        self.get, self.field, self.index = get, field, index

    def value(self):
        if self.index == "append":
            return 0
        values = getattr(self.get(), self.field.name)
        return values if self.index is None else values[self.index]

    def set(self, value) -> None:
        message = self.get()
        if self.index is None:
            setattr(message, self.field.name, value)
        elif self.index == "append":
            getattr(message, self.field.name).append(value)
        else:
            getattr(message, self.field.name)[self.index] = value


def _spots(get, message, descriptor, every: bool, depth: int = 0) -> list[_Spot]:
    """The scalars of `message` (None: not made yet) worth changing: every declared one when
    `every`, else the set ones and those in _READ; the same within its submessages (every
    declared scalar of a present one; of an absent one only in _ATTRIBUTE_MESSAGES)."""
    from google.protobuf.descriptor import FieldDescriptor as F

    out = []
    present = {f.name for f, _ in message.ListFields()} if message is not None else set()
    for field in descriptor.fields:
        if field.name in _IGNORED:
            continue
        name = field.name
        if field.cpp_type == F.CPPTYPE_MESSAGE:
            if depth >= 2:
                continue
            inner = field.message_type
            if field.is_repeated:
                items = getattr(message, name) if message is not None else []
                for k, item in enumerate(items):
                    out += _spots(lambda g=get, n=name, k=k: getattr(g(), n)[k], item, inner, True, depth + 1)
                if not items and (every or name in _ATTRIBUTE_MESSAGES.get(getattr(message, "opcode", None), ())):
                    out += _spots(_adder(get, name), None, inner, True, depth + 1)
            elif name in present:
                out += _spots(lambda g=get, n=name: getattr(g(), n), getattr(message, name), inner, True, depth + 1)
            elif every or name in _ATTRIBUTE_MESSAGES.get(getattr(message, "opcode", None), ()):
                out += _spots(lambda g=get, n=name: getattr(g(), n), None, inner, True, depth + 1)
        elif field.is_repeated:
            count = len(getattr(message, name)) if message is not None else 0
            out += [_Spot(get, field, k) for k in range(count)] + [_Spot(get, field, "append")]
        elif every or name in present or name in _READ:
            out.append(_Spot(get, field))
    return out


def _adder(get, name):
    made = []

    def add():          # one new entry, made once
        if not made:
            made.append(getattr(get(), name).add())
        return made[0]
    return add


def _repeated_fields(message):
    """(message, field) of every non-empty repeated field, the instruction's and its submessages'."""
    from google.protobuf.descriptor import FieldDescriptor as F

    out = []
    for field, value in message.ListFields():
        if field.name in _IGNORED:
            continue
        if field.is_repeated:
            out.append((message, field))
        if field.cpp_type == F.CPPTYPE_MESSAGE:
            for m in (value if field.is_repeated else [value]):
                out += _repeated_fields(m)
    return out


def _strings(module) -> list[str]:
    names = [c.name for c in module.computations] + [i.name for _, i in _instructions(module)]
    return sorted(set(names)) + ["", "%", "EQ", "LT", "TOTALORDER", "SIGNED", "kLoop", "x" * 300, "a b", "a,b",
                                 "{x}", "new\nline", "\u00e9\u4e2d", "\x00", "%main"]


# -- constants: their literal's values, and shape edits that keep them consistent -----------------

def _literal_field(element_type: int, xla) -> str | None:
    from ember_tf.hlo.proto import _LITERAL_FIELDS

    try:
        return _LITERAL_FIELDS.get(xla.PrimitiveType.Name(element_type).lower())
    except ValueError:
        return None


def _literal_values(literal) -> list:
    from ember_tf.hlo.proto import _LITERAL_FIELDS

    for name in dict.fromkeys(_LITERAL_FIELDS.values()):
        values = getattr(literal, name)
        if len(values):
            return list(values) if not isinstance(values, bytes) else [0] * len(values)
    return []


def _fill_literal(literal, shape, xla) -> None:
    """`literal` made to hold shape's element count of values (if small) of its type."""
    from ember_tf.hlo.proto import _LITERAL_FIELDS

    values = _literal_values(literal) or [0]
    for name in dict.fromkeys(_LITERAL_FIELDS.values()):
        literal.ClearField(name)
    literal.shape.CopyFrom(shape)
    count = math.prod(shape.dimensions) if all(d >= 0 for d in shape.dimensions) else -1
    field = _literal_field(shape.element_type, xla)
    if field is None or not 0 <= count <= 4096:
        return
    data = [values[k % len(values)] for k in range(count)]
    if isinstance(getattr(literal, field), bytes):
        setattr(literal, field, bytes(count * (1 if field in ("s8s", "u8s") else 2)))
    else:
        getattr(literal, field).extend(_as(field, v) for v in data)


def _as(field: str, value):
    if field == "preds":
        return bool(value)
    if field.startswith(("f", "bf")):
        return float(value)
    v = int(value) if math.isfinite(float(value)) else 0
    bits = 64 if field.endswith("64s") else 32
    if field.startswith("u"):
        return min(abs(v), (1 << bits) - 1)
    return max(-(1 << bits - 1), min((1 << bits - 1) - 1, v))


def _edit_literal(literal, b: int, c: int) -> None:
    from ember_tf.hlo.proto import _LITERAL_FIELDS

    fields = [n for n in dict.fromkeys(_LITERAL_FIELDS.values()) if len(getattr(literal, n))]
    option = b % 6
    if option == 5 or not fields:                   # the literal's own shape
        literal.shape.dimensions.append(2 + c % 3)
        return
    name = fields[0]
    values = getattr(literal, name)
    if isinstance(values, bytes):                   # 8- and 16-bit types are packed
        values = [values[:-1], values + b"\x00", b"", values[::-1], values * 2][option]
        setattr(literal, name, values)
        return
    if option == 0:
        values.append(values[-1])
    elif option == 1:
        del values[:]
    elif option == 2:                               # the values in another type's field
        other = sorted(set(_LITERAL_FIELDS.values()) - {name})[c % 12]
        data = list(values)
        del values[:]
        if isinstance(getattr(literal, other), bytes):
            setattr(literal, other, bytes(len(data) * (1 if other in ("s8s", "u8s") else 2)))
        else:
            getattr(literal, other).extend(_as(other, v) for v in data)
    elif option == 3:
        extremes = ([math.nan, math.inf, -math.inf, 3.5e38, 1e308, -0.0] if name.startswith(("f", "bf"))
                    else [True, False] if name == "preds" else [0, -1, 1, 2 ** 31 - 1, -(2 ** 31)])
        values[c % len(values)] = _as(name, extremes[c % len(extremes)])
    else:
        values.extend(list(values))


def _edit_dimensions(shape, c: int) -> None:
    dims = shape.dimensions
    option = c % 6
    value = DIMENSIONS[(c // 6) % len(DIMENSIONS)]
    if option == 0 and len(dims):
        dims[(c // 48) % len(dims)] = value
    elif option in (0, 1):
        dims.append(value)
    else:
        del dims[:]
        dims.extend({2: [1 << 31, 1 << 31, 0],       # no elements, but a vast extent
                     3: [1] * 33,                       # rank above the limit
                     4: [0] * 70,                       # rank above numpy's
                     5: []}[option])
    del shape.is_dynamic_dimension[:]


def edit_message(module, kind: str, a: int, b: int, c: int) -> None:
    """Apply one edit to `module` (an HloModuleProto) in place."""
    from google.protobuf.descriptor import FieldDescriptor as F

    _, xla = _pb2()
    computation, instruction = _pick_instruction(module, a)
    if instruction is None:
        return
    ids = [i.id for i in computation.instructions] + [UNKNOWN_ID, -1]
    computation_ids = [x.id for x in module.computations] + [UNKNOWN_ID, -1]
    consistent = instruction.opcode == "constant" and (c >> 10) % 2 == 0    # a constant's values follow
    if kind == "opcode":
        instruction.opcode = _pick(OPCODES, b)
    elif kind in ("operand", "callee"):
        field = instruction.operand_ids if kind == "operand" else instruction.called_computation_ids
        value = _pick(ids if kind == "operand" else computation_ids, c)
        if len(field):
            field[b % len(field)] = value
        else:
            field.append(value)
    elif kind == "dimension":
        shape = _pick(_array_shapes(instruction.shape), b)
        _edit_dimensions(shape, c)
        if consistent:
            _fill_literal(instruction.literal, instruction.shape, xla)
    elif kind == "element_type":
        shape = _pick(_array_shapes(instruction.shape), b)
        shape.element_type = _pick([v.number for v in xla.PrimitiveType.DESCRIPTOR.values] + [99, -5], c)
        if consistent:
            _fill_literal(instruction.literal, instruction.shape, xla)
    elif kind == "remove":
        spots = _repeated_fields(instruction)
        if spots:
            message, field = _pick(spots, b)
            values = getattr(message, field.name)
            del values[c % len(values)]
    elif kind in ("integer", "flag_or_string"):
        numeric = (F.CPPTYPE_INT32, F.CPPTYPE_INT64, F.CPPTYPE_UINT32, F.CPPTYPE_UINT64, F.CPPTYPE_ENUM)
        spots = [s for s in _spots(lambda: instruction, instruction, instruction.DESCRIPTOR, False)
                 if (s.field.cpp_type in numeric) == (kind == "integer")]
        spot = _pick(spots, b)
        if spot is None:
            return
        if kind == "integer":
            spot.set(_fit(_pick(_integers(int(spot.value())), c), spot.field))
        elif spot.field.cpp_type == F.CPPTYPE_BOOL:
            spot.set(not spot.value() if spot.index != "append" else True)
        elif spot.field.cpp_type == F.CPPTYPE_STRING:
            value = _pick(_strings(module), c)
            spot.set(value.encode() if spot.field.type == F.TYPE_BYTES else value)
        else:
            spot.set([0.0, -1.0, math.nan, math.inf, 1e-30][c % 5])
    elif kind == "literal":
        constants = [i for _, i in _instructions(module) if i.opcode == "constant"]
        target = _pick(constants, a)
        if target is not None:
            _edit_literal(target.literal, b, c)
    elif kind == "instruction_id":
        instruction.id = _pick(ids, b)
    elif kind == "root":
        computation.root_id = _pick(ids, b)
    elif kind == "entry":
        if b % 2:
            module.entry_computation_id = _pick(computation_ids, c)
        else:
            module.entry_computation_name = _pick([x.name for x in module.computations] + ["", "nope"], c)
    elif kind == "structure":
        _edit_structure(module, computation, instruction, b, c)


def _edit_structure(module, computation, instruction, b: int, c: int) -> None:
    instructions = computation.instructions
    k = list(instructions).index(instruction)
    option = b % 8
    if option == 0:                                        # an instruction removed
        del instructions[k]
    elif option == 1:                                      # one duplicated (same id and name)
        instructions.add().CopyFrom(instruction)
    elif option == 2:                                      # two swapped
        j = c % len(instructions)
        first, second = copy.deepcopy(instructions[k]), copy.deepcopy(instructions[j])
        instructions[k].CopyFrom(second)
        instructions[j].CopyFrom(first)
    elif option == 3:                                      # a computation removed
        del module.computations[c % len(module.computations)]
    elif option == 4:                                      # one duplicated
        module.computations.add().CopyFrom(computation)
    elif option == 5:                                      # a computation's id taken by another
        computation.id = module.computations[c % len(module.computations)].id
    elif option == 6:                                      # a schedule in reverse order
        sequence = module.schedule.sequences[computation.id]
        sequence.instruction_ids.extend(reversed([i.id for i in instructions]))
    else:                                                  # a computation renamed as another
        computation.name = module.computations[c % len(module.computations)].name


def mutate_message(data: bytes, edits) -> bytes:
    hlo_pb2, _ = _pb2()
    module = hlo_pb2.HloModuleProto.FromString(data)
    for kind, a, b, c in edits:
        edit_message(module, kind, a, b, c)
    return module.SerializeToString()


def mutate(seed: str, level: str, edits) -> bytes:
    data = SEED_BYTES[seed]
    return mutate_bytes(data, edits) if level == "bytes" else mutate_message(data, edits)


@st.composite
def mutants(draw):
    seed = draw(st.sampled_from(sorted(SEED_BYTES)))
    level = draw(st.sampled_from(("bytes", "message", "message", "message")))
    kinds = BYTE_KINDS if level == "bytes" else MESSAGE_KINDS
    numbers = st.integers(0, 1 << 20)
    edits = draw(st.lists(st.tuples(st.sampled_from(kinds), numbers, numbers, numbers), min_size=1, max_size=3))
    return seed, level, edits


# -- the property --------------------------------------------------------------------------------

def check_proto(data: bytes) -> str:
    """read (+ verify), then `check_module`: each succeeds or raises an EmberError. Returns
    what happened, for hypothesis.event."""
    from ember_tf.hlo.proto import read_module_proto

    try:
        read_module_proto(data, "fuzz.pb", verify=False)
    except EmberError as e:
        return "not a module" if "not a serialized HloModuleProto" in str(e) else "reader rejects"
    try:
        module = read_module_proto(data, "fuzz.pb")
    except EmberError:
        return "verifier rejects"
    return "reads, " + check_module(module, "fuzz.pb")


@pytest.fixture(scope="module")
def limits(small_limits):          # noqa: F811 (the fixture imported above)
    """test_fuzz.py's lowered limits, and the while-loop limit lower still (see the docstring)."""
    from ember_tf.hlo.evaluator.ops import control

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(control, "MAX_WHILE_ITERATIONS", WHILE_ITERATIONS)
        check_proto(SEED_BYTES["lookup"])      # warm up TensorFlow's protos outside any deadline
        yield


# -- the tests -----------------------------------------------------------------------------------

def test_the_corpus_has_a_proto_per_seed():
    assert set(SEED_BYTES) == (set(SEEDS) - SKIPPED_SEEDS) | PROTO_ONLY_SEEDS
    assert sum(len(d) for d in SEED_BYTES.values()) < 300_000


@pytest.mark.parametrize("name", sorted(SEED_BYTES))
def test_every_seed_reads_as_its_text_parses(name, limits):
    from ember_tf.hlo import parse_module
    from tests.hlo.test_proto import assert_same_module

    if name in PROTO_ONLY_SEEDS:
        from tests.hlo.test_proto import HAND_WRITTEN as text
    else:
        text = SEEDS[name]
    if name in RENAMED_BY_XLA:
        hlo = pytest.importorskip("jaxlib._hlo")
        text = hlo.hlo_module_from_text(text).to_string()
    assert_same_module(parse_module(text, f"{name}.hlo"), read(SEED_BYTES[name], f"{name}.pb"))
    outcome = check_proto(SEED_BYTES[name])
    assert outcome.startswith("reads, evaluator rejects, converter rejects" if name in PROTO_ONLY_SEEDS
                              else "reads, evaluates, converts"), outcome


@hypothesis.settings(max_examples=EXAMPLES, deadline=datetime.timedelta(seconds=5), derandomize=True,
                     database=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(mutant=mutants())
def test_a_mutated_proto_reads_converts_runs_or_fails_cleanly(limits, mutant):
    seed, level, edits = mutant
    for kind, *_ in edits:
        hypothesis.event(f"edit: {level} {kind}")
    hypothesis.event(f"outcome: {check_proto(mutate(seed, level, edits))}")


def test_edits_do_change_the_proto():
    for kind in set(BYTE_KINDS):
        assert mutate("lookup", "bytes", [(kind, 40, 3, 5)]) != SEED_BYTES["lookup"], kind
    for kind in set(MESSAGE_KINDS):
        assert any(mutate("jax_while", "message", [(kind, a, 3, 5)]) != SEED_BYTES["jax_while"]
                   for a in range(40)), kind


# -- regressions: the minimal edits of crashes the long runs found ---------------------------------

def _seed(name: str):
    hlo_pb2, _ = _pb2()
    return hlo_pb2.HloModuleProto.FromString(SEED_BYTES[name])


def _instruction(module, name: str):
    return next(i for c in module.computations for i in c.instructions if i.name == name)


def assert_one_line_error(data: bytes, *fragments: str) -> None:
    with pytest.raises(HloParseError) as info:
        read(data, "bad.pb")
    message = str(info.value)
    assert message.startswith("bad.pb: ") and "\n" not in message, message
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize("instruction, field, value", [
    ("cv", "input_batch_dimension", 1 << 40),           # was a MemoryError (a list of 2**40 labels)
    ("cc", "input_spatial_dimensions", (1 << 31) - 1),  # was a 16 GiB list: a 40 s hang
    ("cw", "kernel_output_feature_dimension", -1),      # was a wrong dim_labels, silently
])
def test_convolution_dimension_numbers_out_of_range_are_an_error(instruction, field, value):
    module = _seed("proto_hand_written")
    numbers = _instruction(module, instruction).convolution_dimension_numbers
    if field.endswith("_dimensions"):
        getattr(numbers, field).append(value)
    else:
        setattr(numbers, field, value)
    assert_one_line_error(module.SerializeToString(),
                          f"bad.pb: main/{instruction}: convolution dimension number {value} is out of range [0, 32)")


@pytest.mark.parametrize("dims, problem", [
    ([0] * 70, "has rank 70; at most 32 is supported"),       # was numpy's ValueError: at most 64 dimensions
    ([0, 1 << 62], "has a dimension of 4611686018427387904"),  # was numpy's ValueError: array is too big
    ([1 << 31, 1 << 31, 0], "is empty, but its nonzero dimensions multiply to 4611686018427387904"),  # the same
])
def test_an_empty_constant_of_a_shape_numpy_cannot_make_is_an_error(dims, problem):
    module = _seed("lookup")
    two = _instruction(module, "two")
    for shape in (two.shape, two.literal.shape):
        shape.dimensions.extend(dims)
    del two.literal.f32s[:]
    assert_one_line_error(module.SerializeToString(), "bad.pb: main/two: shape f32[", problem)


def test_an_empty_array_numpy_cannot_make_is_an_error():
    """It passed the verifier (0 elements), and the evaluator's broadcast raised numpy's
    ValueError; the text path had the same gap (tests/hlo/test_verifier.py)."""
    module = _seed("lookup")          # ROOT twos = f32[2147483648,2147483648,0] broadcast(two)
    entry = module.computations[0]
    twos = _instruction(module, "twos")
    twos.shape.dimensions[:] = [1 << 31, 1 << 31, 0]
    entry.root_id = twos.id
    del entry.instructions[-1]        # doubled, which no longer matches it
    assert_one_line_error(module.SerializeToString(), "bad.pb: main/twos: shape f32[2147483648,2147483648,0] "
                          "is empty, but its nonzero dimensions multiply to 4611686018427387904")
