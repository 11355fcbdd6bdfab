"""Record ggml blocks and what gguf-py's dequantizer makes of them, for test/model/quants.test.ts.

    python python/gguf_fixture.py [MODELS_DIR] > test/fixtures/gguf-quants.json

MODELS_DIR (default $AZR_MODELS, else models/) holds the pulled models (`npx azr pull NAME`). From each
of smollm2-135m, qwen2.5-coder-0.5b and qwen2.5-coder-1.5b it takes blocks of every tensor type the
file holds (the first, the last and some in between of the first tensor of that type); synthetic blocks
cover the rest: `gguf.quants.quantize` of seeded normal weights where gguf-py can quantize, random bytes
with sane f16 scales where it cannot (Q2_K, Q3_K, Q5_K), plus edge scales (negative, subnormal, zero) for
the block formats. Expected values are `gguf.quants.dequantize` of exactly those bytes, as float32
little-endian; blocks and values are base64.
"""

import base64
import importlib.metadata
import json
import os
import sys
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
BLOCKS_PER_CASE = {32: 8, 256: 2}  # by block size: a few hundred weights per case
FLOATS_PER_CASE = 64  # of a plain-float tensor, from its start


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def case(qtype: T, raw: np.ndarray, source: str) -> dict:
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(-1)
    block, size = GGML_QUANT_SIZES[qtype]
    count = raw.size // size * block
    expected = gguf.quants.dequantize(raw.reshape(1, -1), qtype).astype(np.float32, copy=False).reshape(-1)
    assert expected.size == count, (qtype.name, expected.size, count)
    return {"type": qtype.name, "count": count, "source": source, "bytes": b64(raw), "expected": b64(expected.astype("<f4"))}


def real_cases(models: Path) -> list[dict]:
    out = []
    rng = np.random.default_rng(1)
    for name in MODELS:
        path = models / f"{name}.gguf"
        if not path.exists():
            sys.exit(f"{path} is missing: run `npx azr pull {name}` (or pass the models folder)")
        reader = gguf.GGUFReader(str(path))
        seen = set()
        for t in reader.tensors:
            if t.tensor_type in seen:
                continue
            seen.add(t.tensor_type)
            block, size = GGML_QUANT_SIZES[t.tensor_type]
            raw = np.asarray(t.data).view(np.uint8).reshape(-1)
            if block == 1:
                out.append(case(t.tensor_type, raw[: FLOATS_PER_CASE * size], f"{name} {t.name}, its first {FLOATS_PER_CASE} values"))
                continue
            n_blocks = raw.size // size
            want = min(BLOCKS_PER_CASE[block], n_blocks)
            picks = sorted({0, n_blocks - 1, *rng.choice(n_blocks, size=want, replace=False).tolist()})[:want]
            blocks = raw.reshape(n_blocks, size)[picks]
            out.append(case(t.tensor_type, blocks, f"{name} {t.name}, blocks {picks}"))
    return out


def sane_half(rng: np.random.Generator, n: int, low: float, high: float) -> np.ndarray:
    """f16 scales of random sign-free magnitude in [low, high), as bytes."""
    return rng.uniform(low, high, size=(n, 1)).astype(np.float16).view(np.uint8)


def synthetic_cases() -> list[dict]:
    rng = np.random.default_rng(7)
    out = []
    weights = (rng.standard_normal((8, 32)) * 0.05).astype(np.float32)
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        out.append(case(qtype, gguf.quants.quantize(weights, qtype), "gguf.quants.quantize of N(0, 0.05^2) weights"))
        # The same blocks with edge scales: negative, subnormal, zero and the largest finite f16.
        raw = gguf.quants.quantize(weights, qtype).reshape(8, -1).copy()
        edges = np.array([-0.0123, 3e-6, 0.0, 65504.0, -6.1e-5, 1e-7], dtype=np.float16).view(np.uint8).reshape(-1, 2)
        raw[: len(edges), 0:2] = edges
        if qtype in (T.Q4_1, T.Q5_1):
            raw[: len(edges), 2:4] = edges[::-1]
        out.append(case(qtype, raw, "quantized blocks with edge f16 scales (negative, subnormal, zero, 65504)"))
    # K-quants: random quant bytes, f16 scales placed where each layout keeps them.
    n = 3
    for qtype, scale_at in ((T.Q2_K, (80, 82)), (T.Q3_K, (108,)), (T.Q4_K, (0, 2)), (T.Q5_K, (0, 2)), (T.Q6_K, (208,))):
        size = GGML_QUANT_SIZES[qtype][1]
        raw = rng.integers(0, 256, size=(n, size), dtype=np.uint8)
        for at in scale_at:
            raw[:, at : at + 2] = sane_half(rng, n, 1e-4, 2e-2)
        for at in scale_at:  # one block with a negative scale, one with a subnormal one
            raw[1, at : at + 2] = np.array([-0.0071], dtype=np.float16).view(np.uint8)
            raw[2, at : at + 2] = np.array([4e-6], dtype=np.float16).view(np.uint8)
        out.append(case(qtype, raw, "random quant bytes with f16 scales in [1e-4, 2e-2), one negative, one subnormal"))
    # Plain floats: normal values, subnormals, zeros of both signs, infinities and a quiet NaN.
    special16 = np.array([0x0000, 0x8000, 0x0001, 0x03FF, 0x8200, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00], dtype=np.uint16)
    f16 = np.concatenate([(rng.standard_normal(246) * 0.1).astype(np.float16).view(np.uint16), special16])
    out.append(case(T.F16, f16.view(np.uint8), "N(0, 0.1^2) halves and special values"))
    f32 = np.concatenate([rng.standard_normal(250).astype(np.float32), np.array([0, -0.0, 1e-45, np.inf, -np.inf, np.nan], dtype=np.float32)])
    out.append(case(T.BF16, gguf.quants.quantize(f32, T.BF16), "gguf.quants.quantize to BF16 of normals and special values"))
    out.append(case(T.F32, f32.view(np.uint8), "N(0, 1) floats and special values"))
    return out


def main() -> None:
    models = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("AZR_MODELS") or "models")
    cases = real_cases(models) + synthetic_cases()
    head = {
        "about": "ggml blocks and gguf-py's dequantization of them (float32 LE); written by python/gguf_fixture.py",
        "gguf": importlib.metadata.version("gguf"),
    }
    body = ",\n".join("  " + json.dumps(c) for c in cases)
    sys.stdout.write(json.dumps(head)[:-1] + ', "cases": [\n' + body + "\n]}\n")


if __name__ == "__main__":
    main()
