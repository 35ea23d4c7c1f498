"""Regenerate tests/hlo_import/proto_seeds/: the seed corpus of the HloModuleProto fuzz
target (tests/hlo_import/test_fuzz_proto.py), one serialized HloModuleProto per module
text of tests/hlo_import/test_fuzz.py's SEEDS, as XLA itself (jaxlib) parses it, plus
`proto_hand_written`: tests/hlo/test_proto.py's HAND_WRITTEN module, the one seed with the
opcodes whose attributes only the proto reader renders (convolution, custom-call, rng,
topk, batch-norm, select-and-scatter, reduce-precision, fusion, ...); the text target does
not fuzz it (its opcodes are not the evaluator's).

Run after adding or editing a seed text:  .venv/bin/python tools/make_hlo_proto_seeds.py
(needs jaxlib with `_hlo.hlo_module_from_text`, pinned in constraints.txt; the output is
byte-identical run to run). Stale `.pb` files of seeds that no longer exist are removed.
A seed XLA cannot parse is skipped and named; test_fuzz_proto.py lists the skipped ones.
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "hlo_import" / "proto_seeds"


def serialize(text: str) -> bytes:
    from jaxlib import _hlo

    return _hlo.hlo_module_from_text(text).as_serialized_hlo_module_proto()


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.hlo.test_proto import HAND_WRITTEN
    from tests.hlo_import.test_fuzz import SEEDS

    OUT.mkdir(exist_ok=True)
    written, skipped = set(), []
    for name, text in sorted({**SEEDS, "proto_hand_written": HAND_WRITTEN}.items()):
        try:
            data = serialize(text)
        except Exception as e:        # XlaRuntimeError and friends: jaxlib's parser rejects it
            skipped.append(name)
            print(f"skipped {name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
            continue
        (OUT / f"{name}.pb").write_bytes(data)
        written.add(f"{name}.pb")
    for stale in sorted(p for p in OUT.glob("*.pb") if p.name not in written):
        stale.unlink()
        print(f"removed {stale.name}")
    total = sum((OUT / n).stat().st_size for n in written)
    print(f"{len(written)} seeds, {total} bytes in {OUT.relative_to(ROOT)}"
          + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
