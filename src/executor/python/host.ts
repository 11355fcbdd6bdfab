// Entry point of a Python sandbox process. The parent starts it under Node's permission model (reads
// limited to the Pyodide package, this directory and runtime.py; no writes, child processes or workers),
// with code generation from strings off, an empty environment and, where the OS allows, in an empty
// network namespace. The interpreter itself lives in a realm that holds nothing of this process
// (realm.ts). Protocol: one JSON line per batch on stdin ({limits, requests}), one JSON line per finished
// request on stdout, in order, each carrying the nonce its request came with. Nonces stay here: the
// interpreter never sees them, so nothing it runs can frame a result the parent would accept.
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { startPythonRealm } from './realm.js';

const pyodideDir = process.env.AZR_PYODIDE_DIR as string;
const runtimePy = process.env.AZR_RUNTIME_PY as string;
const capBytes = Number(process.env.AZR_MEMORY_MB ?? '256') * 1024 * 1024;
// 'make': write a memory snapshot of the freshly set-up interpreter to fd 3 for the parent to reuse;
// 'load': start from the snapshot the parent writes to fd 3 (about 5x faster than a plain start).
const snapshotMode = process.env.AZR_SNAPSHOT ?? 'none';
delete process.env.AZR_PYODIDE_DIR;
delete process.env.AZR_RUNTIME_PY;
delete process.env.AZR_MEMORY_MB;
delete process.env.AZR_SNAPSHOT;

const out = process.stdout;
function send(value: unknown): void {
  out.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<void> {
  const snapshot = snapshotMode === 'load' ? fs.readFileSync(3) : undefined;
  const realm = await startPythonRealm({
    pyodideDir,
    runtime: fs.readFileSync(runtimePy, 'utf8'),
    memoryCapBytes: capBytes,
    makeSnapshot: snapshotMode === 'make',
    ...(snapshot && snapshot.length > 0 ? { loadSnapshot: snapshot } : {}),
  });
  if (snapshotMode === 'make') {
    // If it fails, this sandbox still serves and the others start the slow way.
    try {
      const image = realm.snapshot();
      for (let at = 0; at < image.length; ) at += fs.writeSync(3, image, at);
    } catch {}
    fs.closeSync(3);
  }
  // Warm up before saying ready: the first call after a start pays for compiling the interpreter's
  // code paths (about a second on a loaded machine), which must not count against a program's time.
  realm.handle(
    JSON.stringify({
      op: 'check',
      program: 'import math\ndef f(x):\n    return [math.gcd(x, 6)]',
      input: '4',
    }),
    JSON.stringify({ maxOutputChars: 100 }),
  );
  await new Promise((resolve) => setTimeout(resolve, 0));
  send({ ready: true, heap: realm.heapBytes() });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const batch = JSON.parse(line) as { limits: unknown; requests: Record<string, unknown>[] };
    const limits = JSON.stringify(batch.limits);
    for (const { nonce, ...req } of batch.requests) {
      const t0 = performance.now();
      const refusedBefore = realm.refusedGrows();
      let result: Record<string, unknown>;
      try {
        result = JSON.parse(realm.handle(JSON.stringify(req), limits)) as Record<string, unknown>;
      } catch (e) {
        // A fatal error inside the interpreter (e.g. an aborted wasm call): report and let the parent
        // replace this process.
        send({ nonce, fatal: String((e as Error)?.message ?? e).slice(0, 200) });
        process.exit(3);
      }
      const recycle = result.recycle === true;
      delete result.recycle;
      result.timeMs = performance.now() - t0;
      // A refused allocation can surface as a garbled error rather than MemoryError, and can leave the
      // interpreter damaged: call it memory and ask to be replaced.
      const hitCap = realm.refusedGrows() > refusedBefore;
      if (hitCap && result.ok === false) {
        result.kind = 'memory';
        result.message = `memory limit (${capBytes >> 20} MB) reached`;
      }
      send({ nonce, result, heap: realm.heapBytes(), recycle: hitCap || recycle });
    }
  }
}

main().catch((e: unknown) => {
  send({ fatal: String((e as Error)?.message ?? e).slice(0, 300) });
  process.exit(2);
});
