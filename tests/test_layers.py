"""The layers of docs/ARCHITECTURE.md, checked on the source: every import of a package
(at module level or inside a function) points down the pipeline, to a package the table
below allows; the compiler (ir, passes, codegen, compiler.py) never imports the emulator;
the frontend core's types are defined once; files are replaced atomically in one place."""

from __future__ import annotations

import ast
import collections
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1] / "ember_tf"
BOTTOM = {"errors", "version", "tf_loader", "npz"}
# package -> the packages it may import (besides BOTTOM)
ALLOWED = {
    "dae_isa": set(),
    "machines": set(),
    "hlo": set(),
    "ir": {"dae_isa"},
    "passes": {"ir"},
    "codegen": {"ir", "machines"},
    "compiler": {"codegen", "dae_isa", "ir", "passes"},
    "planner": {"compiler", "dae_isa", "emulator", "ir", "machines"},
    "frontend": {"compiler", "dae_isa", "ir", "machines", "planner"},
    "grappler_like": {"compiler", "dae_isa", "frontend", "ir"},
    "hlo_import": {"compiler", "dae_isa", "frontend", "hlo", "ir"},
    "converter": {"compiler", "emulator", "frontend", "grappler_like", "hlo_import", "machines", "planner"},
    "profiling": {"dae_isa", "emulator", "frontend", "ir", "planner", "serving"},
    "emulator": {"dae_isa", "hlo", "machines"},
    "serving": {"compiler", "converter", "dae_isa", "emulator", "grappler_like"},
    "sweep": {"compiler", "converter", "dae_isa", "emulator", "frontend", "machines"},
    "dlrm": set(),
    "demo": {"compiler", "converter", "dae_isa", "dlrm", "emulator", "ir"},
    "cli": {"compiler", "converter", "dae_isa", "demo", "emulator", "frontend", "ir", "machines", "planner", "profiling", "serving", "sweep"},
    "__init__": {"compiler", "converter", "emulator"},
} | {name: set() for name in BOTTOM}
COMPILER = ("ir", "passes", "codegen", "compiler")


def _imports() -> dict[str, set[tuple[str, str]]]:
    """package -> {(imported package, importing file)}."""
    found = collections.defaultdict(set)
    for path in ROOT.rglob("*.py"):
        if path.name == "_schema_generated.py":
            continue
        package = path.relative_to(ROOT).with_suffix("").parts[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "ember_tf"]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "ember_tf" and len(parts) > 1 and parts[1] != package:
                    found[package].add((parts[1], str(path.relative_to(ROOT))))
    return found


def test_every_package_is_in_the_table():
    packages = {p.relative_to(ROOT).with_suffix("").parts[0] for p in ROOT.rglob("*.py")}
    assert packages - {"_schema_generated"} <= set(ALLOWED), packages - set(ALLOWED)


def test_imports_point_down_the_pipeline():
    wrong = sorted(f"{where} imports ember_tf.{target}" for package, imports in _imports().items()
                   for target, where in imports if target not in ALLOWED[package] | BOTTOM)
    assert not wrong, "\n".join(wrong)


def test_the_compiler_never_imports_the_emulator():
    imports = _imports()
    assert not [where for package in COMPILER for target, where in imports[package] if target == "emulator"]


def test_the_frontend_core_types_are_defined_once():
    wanted = {"KernelCall", "Skip", "Skipped", "Rewritten", "SignatureReport", "HostStep", "KernelStep"}
    defined = collections.Counter()
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and node.name in wanted:
                defined[node.name] += 1
    assert defined == {name: 1 for name in wanted}, defined


def test_files_are_replaced_atomically_in_one_place():
    """Every write that replaces a file goes through dae_isa/writer.py (atomic_path,
    write_files, write_model): no other module renames files into place."""
    renames = [str(path.relative_to(ROOT)) for path in ROOT.rglob("*.py")
               if "os.replace(" in path.read_text(encoding="utf-8") and path.name != "writer.py"]
    assert not renames, renames
