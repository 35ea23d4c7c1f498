"""HLO text: a recursive-descent parser for the forms XLA prints — TF's long form
(`%` sigils, typed operands, computation signatures, metadata) and JAX's short form
(bare names, `ENTRY main.5 {`) — and a printer of the short form.

    HloModule name, attr=value, ...
    [ENTRY] [%]name [(p: shape, ...) -> shape] {
      [ROOT] [%]name = shape opcode(operand, ...), attr=value, ...
    }

An operand is `[shape] [%]name`; `constant(...)` holds a literal, `parameter(N)` a
number. Errors are HloParseError with line:column. A parsed module is verified
(`verifier.verify_module`: attributes, operand counts, shapes, calls, size limits)
unless `verify=False`, so what parses is safe to flatten, convert and evaluate."""

from __future__ import annotations

import math
import re

import numpy as np

from ember_tf.hlo.errors import HloParseError
from ember_tf.hlo.module import ELEMENT_TYPES, IGNORED_ATTRIBUTES, Computation, Instruction, Module, Shape
from ember_tf.hlo.verifier import MAX_TUPLE_DEPTH, verify_module

_NAME = re.compile(r"%?([A-Za-z_][\w.\-#]*)")   # XLA uniquifies some clones as name#N
_ELEMENT = re.compile(r"(pred|[suf]\d+|bf16|f8\w*|token|c64|c128)\[")
_NAME_CHAR = re.compile(r"[\w.\-#%]")
_KEYWORDS = frozenset({"ROOT", "ENTRY", "HloModule"})
_MAX_DIGITS = 19        # a number of more digits is past int64 (and Python's int() refuses 4,300+)

__all__ = ["HloParseError", "parse_module", "print_module"]


class _Cursor:
    def __init__(self, text: str, source: str):
        self.text, self.source, self.pos = text, source, 0
        self.positions: dict[tuple[str, str], int] = {}   # (computation, instruction) -> where it starts

    def error(self, message: str, pos: int | None = None) -> HloParseError:
        pos = self.pos if pos is None else pos
        line = self.text.count("\n", 0, pos) + 1
        column = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return HloParseError(f"{self.source}:{line}:{column}: {message}")

    def skip(self) -> None:
        """Whitespace and /* comments */."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos].isspace():
                self.pos += 1
            if self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos)
                if end < 0:
                    raise self.error("unterminated comment")
                self.pos = end + 2
                continue
            return

    def peek(self, token: str) -> bool:
        self.skip()
        return self.text.startswith(token, self.pos)

    def accept(self, token: str) -> bool:
        if self.peek(token):
            self.pos += len(token)
            return True
        return False

    def keyword(self, word: str) -> bool:
        """`word` as a whole word: `ROOTx` is a name, not ROOT followed by x."""
        self.skip()
        end = self.pos + len(word)
        if self.text.startswith(word, self.pos) and not _NAME_CHAR.match(self.text, end):
            self.pos = end
            return True
        return False

    def expect(self, token: str, what: str | None = None) -> None:
        if not self.accept(token):
            raise self.error(f"expected {what or repr(token)}, found {self._found()}")

    def name(self, what: str = "a name") -> str:
        self.skip()
        m = _NAME.match(self.text, self.pos)
        if not m:
            raise self.error(f"expected {what}, found {self._found()}")
        self.pos = m.end()
        return m.group(1)

    def integer(self) -> int:
        self.skip()
        m = re.compile(r"-?[0-9]+").match(self.text, self.pos)
        if not m:
            raise self.error(f"expected an integer, found {self._found()}")
        if len(m.group().lstrip("-")) > _MAX_DIGITS:
            raise self.error(f"integer {m.group()[:24]}... is out of range")
        self.pos = m.end()
        return int(m.group())

    def balanced(self, open_: str, close: str) -> str:
        """The text from an opening bracket to its match (both included), skipping strings."""
        self.skip()
        start = self.pos
        if not self.text.startswith(open_, self.pos):
            raise self.error(f"expected {open_!r}, found {self._found()}")
        depth, i = 0, self.pos
        while i < len(self.text):
            c = self.text[i]
            if c == '"':
                end = self.text.find('"', i + 1)
                while end > 0 and self.text[end - 1] == "\\":
                    end = self.text.find('"', end + 1)
                if end < 0:
                    raise self.error("unterminated string", i)
                i = end
            elif c in "{[(":
                depth += 1
            elif c in "}])":
                depth -= 1
                if depth == 0:
                    self.pos = i + 1
                    return self.text[start:self.pos]
            i += 1
        raise self.error(f"unbalanced {open_!r}", start)

    def at_end(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def _found(self) -> str:
        if self.pos >= len(self.text):
            return "end of input"
        return repr(self.text[self.pos:self.pos + 20].split("\n")[0])


def parse_module(text: str, source: str = "<hlo>", verify: bool = True) -> Module:
    """Parse HLO text (either form) into a verified Module; HloParseError with line:column.
    `verify=False` skips the verifier (only for tests of what lies behind it)."""
    cursor = _Cursor(text, source)
    if not cursor.keyword("HloModule"):
        raise cursor.error(f"expected 'HloModule' at the start, found {cursor._found()}")
    name = cursor.name("the module name")
    while cursor.accept(","):
        cursor.name("a module attribute")
        cursor.expect("=")
        _attribute_value(cursor)
    computations: dict[str, Computation] = {}
    entry = None
    while not cursor.at_end():
        is_entry = cursor.keyword("ENTRY")
        computation = _computation(cursor)
        if computation.name in computations:
            raise cursor.error(f"computation {computation.name!r} defined twice")
        computations[computation.name] = computation
        if is_entry:
            entry = computation.name
    if entry is None:
        if not computations:
            raise cursor.error("the module has no computations")
        entry = list(computations)[-1]   # XLA prints the entry last
    module = Module(name, computations, entry)
    _check_references(module, cursor)
    if verify:
        verify_module(module, _locator(cursor))
    return module


def _locator(cursor: _Cursor):
    """The verifier's error factory: line:column of the instruction when the text has it
    (instructions the parser made itself, `name#k`, fall back to the computation's)."""
    def error(computation: str | None, instruction: str | None, message: str) -> HloParseError:
        pos = cursor.positions.get((computation, instruction))
        if pos is None:
            pos = next((p for (c, _), p in cursor.positions.items() if c == computation), None)
        if pos is None:
            return HloParseError(f"{cursor.source}: {message}")
        return cursor.error(message, pos)
    return error


def _computation(cursor: _Cursor) -> Computation:
    start = cursor.pos
    name = cursor.name("a computation name")
    if name in _KEYWORDS:
        raise cursor.error(f"{name} is a keyword, not a computation name", start)
    if cursor.peek("("):
        cursor.balanced("(", ")")          # the signature repeats the parameters
        cursor.expect("->")
        _shape(cursor)
    cursor.expect("{", "'{' opening the computation")
    instructions, root = [], None
    while not cursor.accept("}"):
        if cursor.at_end():
            raise cursor.error(f"computation {name!r} is not closed")
        is_root = cursor.keyword("ROOT")
        cursor.skip()
        start = cursor.pos
        instruction = _instruction(cursor)
        cursor.positions[(name, instruction.name)] = start
        if is_root:
            root = instruction.name
        instructions.append(instruction)
    if not instructions:
        raise cursor.error(f"computation {name!r} is empty")
    instructions = _tuple_element_operands(instructions, cursor, name)
    names = [i.name for i in instructions]
    if len(set(names)) != len(names):
        raise cursor.error(f"computation {name!r} names an instruction twice")
    return Computation(name, instructions, root or instructions[-1].name)


def _instruction(cursor: _Cursor) -> Instruction:
    cursor.skip()
    start = cursor.pos
    name = cursor.name("an instruction name")
    if name in _KEYWORDS:
        raise cursor.error(f"{name} is a keyword, not an instruction name", start)
    cursor.expect("=", f"'=' after {name}")
    shape = _shape(cursor)
    opcode = cursor.name("an opcode")
    instruction = Instruction(name, opcode, shape, [])
    if opcode == "constant":
        literal = cursor.balanced("(", ")")[1:-1]
        instruction.literal = _literal(literal, shape, cursor, start)
    elif opcode == "parameter":
        cursor.expect("(")
        instruction.parameter_number = cursor.integer()
        cursor.expect(")")
    else:
        cursor.expect("(", f"'(' after {opcode}")
        if not cursor.accept(")"):
            while True:
                instruction.operands.append(_operand(cursor))
                if cursor.accept(")"):
                    break
                cursor.expect(",", "',' or ')' between operands")
    while cursor.peek(","):
        cursor.accept(",")
        key = cursor.name("an attribute name")
        cursor.expect("=", f"'=' after {key}")
        value = _attribute_value(cursor)
        if key not in IGNORED_ATTRIBUTES:
            instruction.attrs[key] = re.sub(r"\s+", "", value).replace("%", "")
    return instruction


def _tuple_element_operands(instructions: list[Instruction], cursor: _Cursor, computation: str) -> list[Instruction]:
    """Newer XLA prints an element of a tuple-shaped operand as `name#k`; it is read as a
    get-tuple-element named `name#k`, placed right after `name`."""
    shapes = {i.name: i.shape for i in instructions}
    added: dict[str, Instruction] = {}
    for instruction in instructions:
        for operand in instruction.operands:
            base, hash_, index = operand.partition("#")
            if not hash_ or operand in shapes or operand in added:
                continue
            if base not in shapes or not shapes[base].is_tuple or not re.fullmatch(r"[0-9]{1,9}", index) \
                    or int(index) >= len(shapes[base].tuple_shapes):
                raise cursor.error(f"{computation}/{instruction.name}: operand {operand!r} is not an element of a "
                                   f"tuple of the computation", cursor.positions.get((computation, instruction.name)))
            added[operand] = Instruction(operand, "get-tuple-element", shapes[base].tuple_shapes[int(index)], [base],
                                         {"index": index})
    if not added:
        return instructions
    out = []
    for instruction in instructions:
        out.append(instruction)
        out += [g for g in added.values() if g.operands[0] == instruction.name]
    return out


def _operand(cursor: _Cursor) -> str:
    cursor.skip()
    if cursor.peek("(") or _ELEMENT.match(cursor.text, cursor.pos):
        _shape(cursor)                       # TF's long form types every operand
    return cursor.name("an operand name")


def _attribute_value(cursor: _Cursor) -> str:
    cursor.skip()
    c = cursor.text[cursor.pos:cursor.pos + 1]
    if c in ("{", "[", "("):
        return cursor.balanced(c, {"{": "}", "[": "]", "(": ")"}[c])
    if c == '"':
        m = re.compile(r'"(?:[^"\\]|\\.)*"').match(cursor.text, cursor.pos)
        if not m:
            raise cursor.error("unterminated string")
        cursor.pos = m.end()
        return m.group()
    m = re.compile(r"[^\s,{}()\[\]]+").match(cursor.text, cursor.pos)
    if not m:
        raise cursor.error(f"expected an attribute value, found {cursor._found()}")
    cursor.pos = m.end()
    return m.group()


def _shape(cursor: _Cursor, depth: int = 0) -> Shape:
    cursor.skip()
    if cursor.peek("("):
        if depth >= MAX_TUPLE_DEPTH:
            raise cursor.error(f"tuple shapes nest more than {MAX_TUPLE_DEPTH} deep")
        cursor.accept("(")
        parts = []
        if not cursor.accept(")"):
            while True:
                parts.append(_shape(cursor, depth + 1))
                if cursor.accept(")"):
                    break
                cursor.expect(",", "',' or ')' in a tuple shape")
        return Shape("tuple", (), tuple(parts))
    start = cursor.pos
    m = _ELEMENT.match(cursor.text, cursor.pos)
    if not m:
        raise cursor.error(f"expected a shape, found {cursor._found()}")
    dtype = m.group(1)
    if dtype not in ELEMENT_TYPES and dtype != "token":
        raise cursor.error(f"element type {dtype} is not supported", start)
    cursor.pos = m.end() - 1
    closed = re.compile(r"\[([^\]\n]*)\]").match(cursor.text, cursor.pos)
    if not closed:
        raise cursor.error("unclosed '[' in a shape", cursor.pos)
    dims_text, cursor.pos = closed.group(1), closed.end()
    dims = []
    for d in dims_text.split(","):
        d = d.strip()
        if not d:
            continue
        if not re.fullmatch(r"[0-9]+", d):
            raise cursor.error(f"dimension {d!r} is not a static size (dynamic shapes are not supported)", start)
        if len(d) > _MAX_DIGITS:
            raise cursor.error(f"dimension {d[:24]}... is out of range", start)
        dims.append(int(d))
    if cursor.text.startswith("{", cursor.pos):
        cursor.balanced("{", "}")            # layout: values are kept row-major
    return Shape(dtype, tuple(dims))


_LITERAL_WORDS = {"nan": "float('nan')", "-nan": "float('nan')", "inf": "float('inf')", "-inf": "-float('inf')",
                  "true": "True", "false": "False"}


def _literal(text: str, shape: Shape, cursor: _Cursor, start: int) -> np.ndarray:
    if shape.is_tuple:
        raise cursor.error("tuple constants are not supported", start)
    body = text.strip()
    typed = re.match(rf"{re.escape(shape.dtype)}\[[^\]]*\]", body)
    if typed:                                        # `constant(f32[2] {1, 2})` (older printers)
        body = body[typed.end():].strip()
    if "..." in body:
        raise cursor.error("the text elides this constant ('{...}'); convert the serialized module "
                           "(stage='hlo_serialized', a .pb file) instead", start)
    tokens = re.findall(r"[{}]|[^\s,{}]+", body)
    values: list = []
    for token in tokens:
        if token in "{}":
            continue
        word = token.lower()
        if word in _LITERAL_WORDS:
            values.append(eval(_LITERAL_WORDS[word]))   # noqa: S307 - a fixed table of words
            continue
        try:
            values.append(int(token) if re.fullmatch(r"-?[0-9]{1,400}", token) else float(token))
        except ValueError:
            raise cursor.error(f"bad literal value {token[:40]!r}", start) from None
    count = math.prod(shape.dims)
    if len(values) != count:
        raise cursor.error(f"constant of shape {shape} holds {len(values)} values, not {count}", start)
    if shape.dtype == "token":
        raise cursor.error("token constants are not supported", start)
    try:
        with np.errstate(all="ignore"):
            return np.array(values, dtype=shape.numpy_dtype).reshape(shape.dims)
    except (OverflowError, ValueError, TypeError) as e:   # 300 as s8, NaN or 1e99 as an integer
        bad = _unrepresentable(values, shape.numpy_dtype)
        raise cursor.error(f"constant of type {shape.dtype} cannot hold the value {bad}" if bad is not None
                           else f"constant of shape {shape}: {e}", start) from None


def _unrepresentable(values: list, dtype: np.dtype):
    """The first value numpy refuses to store as `dtype`, if one is."""
    for value in values:
        try:
            np.array(value, dtype=dtype)
        except (OverflowError, ValueError, TypeError):
            return value
    return None


def _check_references(module: Module, cursor: _Cursor) -> None:
    for computation in module.computations.values():
        names = {i.name for i in computation.instructions}
        for instruction in computation.instructions:
            where = cursor.positions.get((computation.name, instruction.name))
            for operand in instruction.operands:
                if operand not in names:
                    raise cursor.error(f"{computation.name}/{instruction.name}: operand {operand!r} is not an "
                                       f"instruction of {computation.name}", where)
            for callee in instruction.called_computations():
                if callee not in module.computations:
                    raise cursor.error(f"{computation.name}/{instruction.name} calls {callee!r}, which the module "
                                       f"does not define", where)


# -- printer ------------------------------------------------------------------------------

def print_module(module: Module) -> str:
    """The short (JAX-style) form; parse_module reads it back to an equal Module."""
    lines = [f"HloModule {module.name}", ""]
    for computation in module.computations.values():
        prefix = "ENTRY " if computation.name == module.entry else ""
        lines.append(f"{prefix}{computation.name} {{")
        for i in computation.instructions:
            root = "ROOT " if i.name == computation.root else ""
            if i.opcode == "constant":
                args = _format_literal(i.literal)
            elif i.opcode == "parameter":
                args = str(i.parameter_number)
            else:
                args = ", ".join(i.operands)
            attrs = "".join(f", {k}={v}" for k, v in i.attrs.items())
            lines.append(f"  {root}{i.name} = {i.shape} {i.opcode}({args}){attrs}")
        lines += ["}", ""]
    return "\n".join(lines)


def _format_literal(value: np.ndarray) -> str:
    def scalar(x) -> str:
        if value.dtype == np.bool_:
            return "true" if x else "false"
        if np.issubdtype(value.dtype, np.integer):
            return str(int(x))
        x = float(x)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)

    def nest(a) -> str:
        if a.ndim == 0:
            return scalar(a[()])
        return "{" + ", ".join(nest(sub) for sub in a) + "}"

    return nest(np.asarray(value))
