"""The schema contract: committed generated code matches the pinned flatc, the
current schema conforms to every frozen version, and the structural verifier's
field table agrees with the generated accessors."""

from __future__ import annotations

import inspect
import pathlib
import re
import subprocess

import pytest

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa.flatbuffer_verify import TABLES
from tests.tools import load_tool

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _gen_schema_tool():
    return load_tool("gen_schema")


def test_committed_generated_code_matches_pinned_flatc(tmp_path):
    regenerated = _gen_schema_tool().generate(tmp_path)
    committed = ROOT / "ember_tf" / "dae_isa" / "_schema_generated.py"
    assert regenerated.read_text() == committed.read_text(), (
        "schema/dae.fbs changed without regenerating: run python tools/gen_schema.py")


FROZEN = sorted((ROOT / "schema" / "frozen").glob("*.fbs"))


@pytest.mark.parametrize("frozen", FROZEN, ids=[f.name for f in FROZEN])
def test_current_schema_conforms_to_frozen(frozen):
    flatc = _gen_schema_tool().find_flatc()
    result = subprocess.run([flatc, "--conform", str(frozen), str(ROOT / "schema" / "dae.fbs")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_conform_rejects_a_field_inserted_mid_table(tmp_path):
    schema = (ROOT / "schema" / "dae.fbs").read_text()
    broken = schema.replace("table Tensor {\n  name:string;", "table Tensor {\n  name:string;\n  inserted:int;")
    assert broken != schema
    (tmp_path / "broken.fbs").write_text(broken)
    flatc = _gen_schema_tool().find_flatc()
    result = subprocess.run([flatc, "--conform", str(FROZEN[-1]), str(tmp_path / "broken.fbs")],
                            capture_output=True, text=True)
    assert result.returncode != 0


def test_frozen_v1_exists_and_schema_header():
    assert [f.name for f in FROZEN][0] == "dae_v1.fbs"
    schema = (ROOT / "schema" / "dae.fbs").read_text()
    assert 'file_identifier "DAE1";' in schema and 'file_extension "daebin";' in schema
    assert re.search(r"data:\[ubyte\] \(force_align: 16\);", schema)


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


@pytest.mark.parametrize("table_name", sorted(TABLES))
def test_verifier_field_table_matches_generated_accessors(table_name):
    """Every generated accessor reads vtable slot 4 + 2 * (its index in TABLES)."""
    cls = getattr(fb, table_name)
    slots = {}
    for name, method in inspect.getmembers(cls, inspect.isfunction):
        match = re.search(r"self\._tab\.Offset\((\d+)\)", inspect.getsource(method))
        if match and not name.endswith(("Length", "IsNone", "AsNumpy")):
            slots.setdefault(_snake(name), int(match.group(1)))
    expected = {field: 4 + 2 * i for i, (field, _) in enumerate(TABLES[table_name])}
    assert slots == expected
