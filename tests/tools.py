"""Load a script of tools/ as a module (tools/ is not a package), for the tests
that check generated files against their generator."""

from __future__ import annotations

import importlib.util
import pathlib
import types

TOOLS = pathlib.Path(__file__).resolve().parents[1] / "tools"


def load_tool(name: str) -> types.ModuleType:
    """tools/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, TOOLS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
