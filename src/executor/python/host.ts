// Entry point of a Python sandbox process. The parent starts it under Node's permission model (reads
// limited to the Pyodide package, this directory and runtime.py; no writes, child processes or workers), with an
// empty environment and, where the OS allows, in an empty network namespace. Protocol: one JSON line per
// batch on stdin ({limits, requests}), one JSON line per finished request on stdout, in order, so the
// parent always knows which request is running and can kill the process when it overruns.
import fs from 'node:fs';
import os from 'node:os';
import { createInterface } from 'node:readline';

// Pyodide calls process.binding('constants'), which the permission model refuses; answer it here.
const proc = process as unknown as { binding: (name: string) => unknown };
const binding = proc.binding.bind(process);
proc.binding = (name: string) =>
  name === 'constants' ? { fs: fs.constants, os: os.constants } : binding(name);

// The wasm heap never shrinks and Worker resource limits do not cover it: refuse growth past the cap so a
// memory bomb becomes a Python MemoryError instead of taking gigabytes from the host.
const capBytes = Number(process.env.AZR_MEMORY_MB ?? '256') * 1024 * 1024;
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(delta: number): number;
}
const memoryProto = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } })
  .WebAssembly.Memory.prototype;
const grow = memoryProto.grow;
let refusedGrows = 0;
memoryProto.grow = function (this: WasmMemory, delta: number): number {
  if (this.buffer.byteLength + delta * 65536 > capBytes) {
    refusedGrows++;
    throw new RangeError('sandbox memory cap');
  }
  return grow.call(this, delta);
};

const pyodideDir = process.env.AZR_PYODIDE_DIR as string;
// runtime.py: the task policy, limits and ops in Python, which defines handle() and cut_bridges().
const runtimePy = process.env.AZR_RUNTIME_PY as string;
// 'make': write a memory snapshot of the freshly set-up interpreter to fd 3 for the parent to reuse;
// 'load': start from the snapshot the parent writes to fd 3 (about 5x faster than a plain start).
const snapshotMode = process.env.AZR_SNAPSHOT ?? 'none';
delete process.env.AZR_PYODIDE_DIR;
delete process.env.AZR_RUNTIME_PY;
delete process.env.AZR_MEMORY_MB;
delete process.env.AZR_SNAPSHOT;

function send(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function main(): Promise<void> {
  const { loadPyodide } = (await import(`${pyodideDir}/pyodide.mjs`)) as typeof import('pyodide');
  const snapshot = snapshotMode === 'load' ? fs.readFileSync(3) : undefined;
  const pyodide = await loadPyodide({
    indexURL: `${pyodideDir}/`,
    env: { PYTHONHASHSEED: '0', HOME: '/home/pyodide' },
    stdout: () => {},
    stderr: () => {},
    stdin: () => null,
    ...(snapshotMode === 'make' ? { _makeSnapshot: true } : {}),
    ...(snapshot ? { _loadSnapshot: snapshot } : {}),
  });
  if (!snapshot) pyodide.runPython(fs.readFileSync(runtimePy, 'utf8'));
  if (snapshotMode === 'make') {
    // Taken before any program has run, and before the bridges below are cut (a snapshot's bootstrap
    // needs them; every instance cuts them again). If it fails, this sandbox still serves and the
    // others start the slow way.
    try {
      const image = (pyodide as unknown as { makeMemorySnapshot(): Uint8Array }).makeMemorySnapshot();
      for (let at = 0; at < image.length; ) at += fs.writeSync(3, image, at);
    } catch {}
    fs.closeSync(3);
  }
  // Cut the bridges to JavaScript and the socket emulation; the process boundary holds regardless.
  (pyodide.globals.get('cut_bridges') as () => void)();
  const handle = pyodide.globals.get('handle') as (req: string, limits: string) => string;
  const heap = () => (pyodide as unknown as { _module: { HEAP8: Int8Array } })._module.HEAP8.length;
  // Warm up before saying ready: the first call after a start pays for compiling the interpreter's
  // code paths (about a second on a loaded machine), which must not count against a program's time.
  handle(
    JSON.stringify({
      op: 'check',
      program: 'import math\ndef f(x):\n    return [math.gcd(x, 6)]',
      input: '4',
    }),
    JSON.stringify({ maxOutputChars: 100 }),
  );
  // ast.unparse's paths are cold too: a first normalize took 1.5 s on a loaded machine, then 1 ms.
  handle(JSON.stringify({ op: 'normalize', program: 'def f(a):\n    return [a for b in a]' }), '{}');
  await new Promise((resolve) => setTimeout(resolve, 0));
  send({ ready: true, heap: heap() });

  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) {
    const batch = JSON.parse(line) as { limits: unknown; requests: unknown[] };
    const limits = JSON.stringify(batch.limits);
    for (const req of batch.requests) {
      const t0 = performance.now();
      const refusedBefore = refusedGrows;
      let result: Record<string, unknown>;
      try {
        result = JSON.parse(handle(JSON.stringify(req), limits)) as Record<string, unknown>;
      } catch (e) {
        // A fatal error inside the interpreter (e.g. an aborted wasm call): report and let the parent
        // replace this process.
        send({ fatal: String((e as Error)?.message ?? e).slice(0, 200) });
        process.exit(3);
      }
      result.timeMs = performance.now() - t0;
      // A refused allocation can surface as a garbled error rather than MemoryError, and can leave the
      // interpreter damaged: call it memory and ask to be replaced.
      const hitCap = refusedGrows > refusedBefore;
      if (hitCap && result.ok === false) {
        result.kind = 'memory';
        result.message = `memory limit (${capBytes >> 20} MB) reached`;
      }
      send({ result, heap: heap(), recycle: hitCap });
    }
  }
}

main().catch((e: unknown) => {
  send({ fatal: String((e as Error)?.message ?? e).slice(0, 300) });
  process.exit(2);
});
