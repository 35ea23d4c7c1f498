"""What `ember-tf inspect` shows: a model's tensors, kernels, buffers, sizes and
metadata, as a dict (for --json) or as text."""

from __future__ import annotations

from ember_tf.dae_isa import _schema_generated as fb
from ember_tf.dae_isa import dtypes
from ember_tf.dae_isa.writer import buffer_bytes

_OPERATOR_KIND = {fb.OperatorKind.KERNEL: "kernel", fb.OperatorKind.HOST_SEGMENT: "host_segment"}


def _ints(values) -> list[int]:
    return [] if values is None else [int(v) for v in values]


def _metadata_value(raw: bytes):
    text = raw.rstrip(b"\0")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes>"
    return decoded if decoded.isprintable() else f"<{len(raw)} bytes>"


def summarize(model: fb.ModelT, file_size: int) -> dict:
    buffers = model.buffers or []
    sizes = [len(buffer_bytes(b)) for b in buffers]
    return {
        "file_bytes": file_size,
        "schema_version": model.version,
        "description": model.description or "",
        "metadata": {m.name: _metadata_value(bytes(buffer_bytes(buffers[m.buffer]))) for m in model.metadata or []},
        "buffers": {
            "count": len(buffers),
            "bytes": sum(sizes),
            "external": sum(1 for b in buffers if b.offset),
            "external_bytes": sum(s for b, s in zip(buffers, sizes) if b.offset),
        },
        "tensors": [
            {
                "index": i,
                "name": t.name or "",
                "dtype": dtypes.TENSOR_BY_CODE[t.dtype].name,
                "shape": _ints(t.shapeSignature) or _ints(t.shape),
                "buffer": t.buffer,
                "bytes": sizes[t.buffer] if t.buffer else 0,
            }
            for i, t in enumerate(model.tensors or [])
        ],
        "kernels": [
            {
                "index": i,
                "name": k.name or "",
                "version": k.version,
                "machine": k.machine.name or "",
                "access_words": 0 if k.accessCode is None else len(k.accessCode),
                "execute_words": 0 if k.executeCode is None else len(k.executeCode),
                "slots": [f"{s.name}:{dtypes.BY_CODE[s.dtype].name}" for s in k.slots or []],
            }
            for i, k in enumerate(model.kernels or [])
        ],
        "host_segments": [
            {"index": i, "name": s.name or "", "bytes": sizes[s.buffer], "inputs": list(s.inputNames or []),
             "outputs": list(s.outputNames or [])}
            for i, s in enumerate(model.hostSegments or [])
        ],
        "subgraphs": [
            {
                "name": g.name or "",
                "inputs": _ints(g.inputs),
                "outputs": _ints(g.outputs),
                "operators": [
                    {"kind": _OPERATOR_KIND[o.kind], "index": o.index, "inputs": _ints(o.inputs),
                     "outputs": _ints(o.outputs)}
                    for o in g.operators or []
                ],
            }
            for g in model.subgraphs or []
        ],
        "signatures": {
            s.key: {"subgraph": s.subgraph, "inputs": {m.name: m.tensor for m in s.inputs or []},
                    "outputs": {m.name: m.tensor for m in s.outputs or []}}
            for s in model.signatureDefs or []
        },
    }


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]


def format_summary(name: str, info: dict) -> str:
    out = [f"{name}: {info['file_bytes']:,} bytes, schema v{info['schema_version']}"
           + (f", {info['description']!r}" if info["description"] else "")]
    for key, value in info["metadata"].items():
        out.append(f"  {key}: {value}")
    b = info["buffers"]
    out.append(f"buffers: {b['count']} holding {b['bytes']:,} bytes"
               + (f" ({b['external']} stored after the FlatBuffer, {b['external_bytes']:,} bytes)"
                  if b["external"] else ""))
    if info["tensors"]:
        out.append(f"tensors: {len(info['tensors'])}")
        rows = [["#", "name", "dtype", "shape", "constant"]]
        for t in info["tensors"]:
            rows.append([str(t["index"]), t["name"], t["dtype"], str(t["shape"]),
                         f"{t['bytes']:,} bytes (buffer {t['buffer']})" if t["buffer"] else "-"])
        out.extend(_table(rows))
    if info["kernels"]:
        out.append(f"kernels: {len(info['kernels'])}")
        rows = [["#", "name", "target", "access", "execute", "slots"]]
        for k in info["kernels"]:
            rows.append([str(k["index"]), f"{k['name']} v{k['version']}", k["machine"],
                         f"{k['access_words']} words", f"{k['execute_words']} words", ", ".join(k["slots"])])
        out.extend(_table(rows))
    for s in info["host_segments"]:
        out.append(f"host segment {s['index']} {s['name']!r}: {s['bytes']:,} bytes, inputs {s['inputs']}, "
                   f"outputs {s['outputs']}")
    for g in info["subgraphs"]:
        out.append(f"subgraph {g['name']!r}: inputs {g['inputs']} -> outputs {g['outputs']}")
        for o in g["operators"]:
            out.append(f"  {o['kind']} {o['index']}: {o['inputs']} -> {o['outputs']}")
    for key, s in info["signatures"].items():
        out.append(f"signature {key!r}: inputs {s['inputs']} -> outputs {s['outputs']}")
    return "\n".join(out) + "\n"

