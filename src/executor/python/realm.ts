// The JavaScript realm the Python interpreter lives in: a `vm` context made for it, holding nothing of the
// host. Pyodide's FFI lets Python code reach every JavaScript object its interpreter can see and call any
// function among them, so what the FFI can reach is decided here, on the JavaScript side, where no Python
// spelling can change it:
//
// - the context is created from a null-prototype object, so its global's prototype chain is the
//   context's own intrinsics (a plain object would put the host's Object, and through its constructor the
//   host's Function, one property away);
// - code generation from strings is off in the context (`Function(...)`, `eval` throw), and the process
//   runs with it off too (spawn.ts), so even a host function that slipped in could not compile code;
// - dynamic `import()` in a context without an import callback is refused by Node;
// - Pyodide runs in its "shell" mode: it reads its three files through `read`/`readbuffer` functions
//   defined in the context over bytes copied in here, so Node's fs, `process`, `require` and `fetch` are
//   never in the context at all, and there is no socket API to find (the permission model does not cover
//   sockets: this is what keeps a process without `unshare -n` off the network);
// - nothing crosses from host to context but strings, numbers and bytes copied into arrays the context
//   made; the host calls context functions, the context never holds a host function.
import fs from 'node:fs';
import vm from 'node:vm';

/** What the host needs from a started interpreter. Every value crossing here is a string or a number. */
export interface PythonRealm {
  /** One request in, one result out, both JSON text (runtime.py's `handle`). */
  handle(request: string, limits: string): string;
  /** Bytes in the interpreter's WebAssembly memory (it never shrinks). */
  heapBytes(): number;
  /** How many memory growths the cap refused so far. */
  refusedGrows(): number;
  /** A memory snapshot of the interpreter (only when started with `makeSnapshot`), copied to the host. */
  snapshot(): Uint8Array;
}

export interface RealmOptions {
  pyodideDir: string;
  /** runtime.py's text; run after a plain start (a snapshot already holds it). */
  runtime: string;
  memoryCapBytes: number;
  makeSnapshot?: boolean;
  loadSnapshot?: Uint8Array;
}

/**
 * Set up inside the new context, before Pyodide: the file readers of Emscripten's shell mode, a clock, a
 * seeded byte source where shell mode would run `os.system('head -c N /dev/urandom')`, UTF-8/latin1/UTF-16
 * text codecs (a bare V8 context has none), and the memory cap. Injected as source text, so it must not
 * refer to anything outside itself.
 */
function prelude(capBytes: number): unknown {
  // biome-ignore lint/suspicious/noRedundantUseStrict: this body runs as source text in a sloppy script
  'use strict';
  const g = globalThis as unknown as Record<string, unknown>;
  const texts = new Map<string, string>();
  const binaries = new Map<string, ArrayBuffer>();
  const missing = (p: string) => new Error(`the sandbox has no file ${p}`);
  g.read = (p: string) => {
    const t = texts.get(p);
    if (t === undefined) throw missing(p);
    return t;
  };
  g.readbuffer = (p: string) => {
    const b = binaries.get(p);
    if (b === undefined) throw missing(p);
    return b;
  };
  g.load = () => {
    throw new Error('the sandbox loads no scripts');
  };
  // A clock for Python's monotonic time (programs cannot import time; the interpreter reads it).
  g.performance = Object.freeze({ now: () => Date.now() });
  // Python asks for random bytes (hash secrets, os.urandom): a fixed sequence, so runs are reproducible.
  let seed = 0x2545f491;
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  g.os = Object.freeze({
    system(_cmd: string, args: string[]) {
      const n = Number(/head -c(\d+)/.exec(String(args?.[1]))?.[1] ?? 0);
      const b: number[] = [];
      for (let i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >>> 17;
        seed ^= seed << 5;
        b.push(seed & 255);
      }
      let out = '';
      for (let i = 0; i < b.length; i += 3) {
        const x = ((b[i] as number) << 16) | ((b[i + 1] ?? 0) << 8) | (b[i + 2] ?? 0);
        out += B64[(x >> 18) & 63] as string;
        out += B64[(x >> 12) & 63] as string;
        out += i + 1 < b.length ? (B64[(x >> 6) & 63] as string) : '=';
        out += i + 2 < b.length ? (B64[x & 63] as string) : '=';
      }
      return out;
    },
  });

  const fromCodes = (u16: Uint16Array | Uint8Array): string => {
    let s = '';
    for (let i = 0; i < u16.length; i += 8192)
      s += String.fromCharCode.apply(null, u16.subarray(i, i + 8192) as unknown as number[]);
    return s;
  };
  const utf8 = (b: Uint8Array, fatal: boolean): string => {
    const out = new Uint16Array(Math.min(b.length, 65536) + 4);
    let n = 0;
    let s = '';
    for (let i = 0; i < b.length; ) {
      if (n > out.length - 4) {
        s += fromCodes(out.subarray(0, n));
        n = 0;
      }
      const c = b[i++] as number;
      if (c < 0x80) {
        out[n++] = c;
        continue;
      }
      let cp: number;
      let need: number;
      if (c >= 0xc2 && c < 0xe0) [cp, need] = [c & 0x1f, 1];
      else if (c >= 0xe0 && c < 0xf0) [cp, need] = [c & 0x0f, 2];
      else if (c >= 0xf0 && c < 0xf5) [cp, need] = [c & 0x07, 3];
      else {
        if (fatal) throw new TypeError('invalid UTF-8');
        out[n++] = 0xfffd;
        continue;
      }
      let ok = i + need <= b.length;
      for (let k = 0; ok && k < need; k++) {
        const x = b[i + k] as number;
        if ((x & 0xc0) !== 0x80) ok = false;
        else cp = (cp << 6) | (x & 0x3f);
      }
      if (
        !ok ||
        (need === 2 && cp < 0x800) ||
        (need === 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp < 0xe000)
      ) {
        if (fatal) throw new TypeError('invalid UTF-8');
        out[n++] = 0xfffd;
        continue;
      }
      i += need;
      if (cp >= 0x10000) {
        cp -= 0x10000;
        out[n++] = 0xd800 | (cp >> 10);
        out[n++] = 0xdc00 | (cp & 0x3ff);
      } else out[n++] = cp;
    }
    return s + fromCodes(out.subarray(0, n));
  };
  class TextDecoder {
    readonly encoding: string;
    readonly fatal: boolean;
    constructor(label = 'utf-8', options: { fatal?: boolean } = {}) {
      const l = String(label).toLowerCase();
      this.encoding = l === 'utf8' ? 'utf-8' : l;
      this.fatal = !!options.fatal;
      if (!['utf-8', 'latin1', 'utf-16le'].includes(this.encoding))
        throw new RangeError(`unsupported encoding ${label}`);
    }
    decode(view: ArrayBufferView | ArrayBuffer = new Uint8Array(0)): string {
      const b =
        view instanceof Uint8Array
          ? view
          : ArrayBuffer.isView(view)
            ? new Uint8Array(view.buffer, view.byteOffset, view.byteLength)
            : new Uint8Array(view);
      if (this.encoding === 'latin1') return fromCodes(b);
      if (this.encoding === 'utf-16le') return fromCodes(new Uint16Array(b.slice(0, b.length & ~1).buffer));
      return utf8(b, this.fatal);
    }
  }
  class TextEncoder {
    get encoding() {
      return 'utf-8';
    }
    encodeInto(s: string, dest: Uint8Array): { read: number; written: number } {
      let w = 0;
      let r = 0;
      for (; r < s.length; r++) {
        let cp = s.charCodeAt(r);
        let units = 1;
        if (cp >= 0xd800 && cp < 0xdc00 && r + 1 < s.length) {
          const lo = s.charCodeAt(r + 1);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            units = 2;
          }
        }
        if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
        const size = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (w + size > dest.length) break;
        if (size === 1) dest[w++] = cp;
        else if (size === 2) {
          dest[w++] = 0xc0 | (cp >> 6);
          dest[w++] = 0x80 | (cp & 63);
        } else if (size === 3) {
          dest[w++] = 0xe0 | (cp >> 12);
          dest[w++] = 0x80 | ((cp >> 6) & 63);
          dest[w++] = 0x80 | (cp & 63);
        } else {
          dest[w++] = 0xf0 | (cp >> 18);
          dest[w++] = 0x80 | ((cp >> 12) & 63);
          dest[w++] = 0x80 | ((cp >> 6) & 63);
          dest[w++] = 0x80 | (cp & 63);
        }
        r += units - 1;
      }
      return { read: r, written: w };
    }
    encode(s = ''): Uint8Array {
      const text = String(s);
      const buf = new Uint8Array(text.length * 3);
      return buf.slice(0, this.encodeInto(text, buf).written);
    }
  }
  for (const C of [TextDecoder, TextEncoder]) {
    Object.freeze(C.prototype);
    Object.freeze(C);
  }
  g.TextDecoder = TextDecoder;
  g.TextEncoder = TextEncoder;

  // The wasm heap never shrinks and no V8 limit covers it: refuse growth past the cap, so a memory bomb
  // becomes a Python MemoryError instead of taking gigabytes from the machine. Not writable, so Python
  // code holding the prototype through the FFI cannot put the unchecked method back.
  const W = (g.WebAssembly as { Memory: { prototype: { grow(d: number): number } } }).Memory.prototype;
  const grow = W.grow;
  let refused = 0;
  Object.defineProperty(W, 'grow', {
    value: function grow_(this: { buffer: ArrayBuffer }, delta: number): number {
      if (this.buffer.byteLength + delta * 65536 > capBytes) {
        refused++;
        throw new RangeError('sandbox memory cap');
      }
      return grow.call(this, delta);
    },
    writable: false,
    configurable: false,
  });

  let snapshotIn: Uint8Array | undefined;
  return Object.freeze({
    addText: (p: string, t: string) => void texts.set(p, t),
    addBinary: (p: string, n: number) => {
      const a = new Uint8Array(n);
      binaries.set(p, a.buffer);
      return a;
    },
    snapshotBytes: (n: number) => {
      snapshotIn = new Uint8Array(n);
      return snapshotIn;
    },
    takeSnapshot: () => {
      const s = snapshotIn;
      snapshotIn = undefined;
      return s;
    },
    refused: () => refused,
  });
}

interface PreludeApi {
  addText(path: string, text: string): void;
  addBinary(path: string, size: number): Uint8Array;
  snapshotBytes(size: number): Uint8Array;
  takeSnapshot: unknown;
  refused(): number;
}

interface StartedApi {
  snapshot(): Uint8Array;
  cutBridges(): void;
  handle(request: string, limits: string): string;
  heap(): number;
}

/** Replace `from` in `text` once, or fail: a Pyodide release that moved it must be looked at, not guessed. */
function patch(text: string, from: string, to: string, file: string): string {
  const at = text.lastIndexOf(from);
  if (at === -1) throw new Error(`${file}: expected text not found (${from.slice(0, 40)})`);
  return text.slice(0, at) + to + text.slice(at + from.length);
}

export async function startPythonRealm(opts: RealmOptions): Promise<PythonRealm> {
  const dir = opts.pyodideDir.endsWith('/') ? opts.pyodideDir : `${opts.pyodideDir}/`;
  const context = vm.createContext(Object.create(null), {
    name: 'python sandbox',
    codeGeneration: { strings: false, wasm: true },
  });
  const run = (source: string, filename: string): unknown => vm.runInContext(source, context, { filename });
  const api = run(
    `(${prelude.toString()})(${JSON.stringify(opts.memoryCapBytes)})`,
    'prelude.js',
  ) as PreludeApi;

  api.addText(`${dir}pyodide-lock.json`, fs.readFileSync(`${dir}pyodide-lock.json`, 'utf8'));
  for (const name of ['python_stdlib.zip', 'pyodide.asm.wasm']) {
    const bytes = fs.readFileSync(`${dir}${name}`);
    api.addBinary(`${dir}${name}`, bytes.length).set(bytes);
  }
  if (opts.loadSnapshot) api.snapshotBytes(opts.loadSnapshot.length).set(opts.loadSnapshot);

  // Both files are ES modules; a context script has no module scope, so each ends by naming its export
  // on the context's global instead, and the one import.meta.url (only used to name files) is a constant.
  let asm = fs.readFileSync(`${dir}pyodide.asm.mjs`, 'utf8');
  asm = patch(asm, 'export default _createPyodideModule;', '', 'pyodide.asm.mjs');
  asm = asm.replaceAll('import.meta.url', JSON.stringify(`file://${dir}pyodide.asm.mjs`));
  run(asm, 'pyodide.asm.js');
  const loader = fs.readFileSync(`${dir}pyodide.mjs`, 'utf8');
  const exported = /export\s*\{\s*(\w+) as loadPyodide\s*,[^}]*\};?/.exec(loader);
  if (!exported) throw new Error('pyodide.mjs: loadPyodide export not found');
  run(patch(loader, exported[0], `globalThis.loadPyodide = ${exported[1]};`, 'pyodide.mjs'), 'pyodide.js');

  const config = {
    indexURL: dir,
    env: { PYTHONHASHSEED: '0', HOME: '/home/pyodide' },
    fullStdLib: false,
    makeSnapshot: !!opts.makeSnapshot,
  };
  // Everything below runs in the context; only strings go in (the config as JSON text, runtime.py's text).
  // The host calls the plain functions it answers with strings: calling a Pyodide proxy from here would
  // hand the context an argument array made in the host's realm.
  const start = run(
    `(async (configText, runtime, takeSnapshot) => {
      const config = JSON.parse(configText);
      const snapshot = takeSnapshot();
      const py = await loadPyodide({
        indexURL: config.indexURL,
        env: config.env,
        createPyodideModule: _createPyodideModule,
        jsglobals: Object.create(null),
        stdout: () => {},
        stderr: () => {},
        stdin: () => null,
        ...(config.makeSnapshot ? { _makeSnapshot: true } : {}),
        ...(snapshot ? { _loadSnapshot: snapshot } : {}),
      });
      delete globalThis.loadPyodide;
      delete globalThis._createPyodideModule;
      if (!snapshot) py.runPython(runtime);
      let handle = null;
      return Object.freeze({
        snapshot: () => py.makeMemorySnapshot(),
        cutBridges: () => {
          py.globals.get('cut_bridges')();
          handle = py.globals.get('handle');
        },
        // runtime.py's handle ends with the integrity check (see its comments); a sandbox whose runtime
        // changed answers a failure with recycle set, and host.ts retires it.
        handle: (request, limits) => String(handle(request, limits)),
        heap: () => py._module.HEAP8.length,
      });
    })`,
    'start.js',
  ) as (config: string, runtime: string, take: unknown) => Promise<StartedApi>;
  const started = await start(JSON.stringify(config), opts.runtime, api.takeSnapshot);
  // Taken before the bridges are cut (a snapshot's bootstrap needs them; every instance cuts them again)
  // and before any program has run; copied into a host array, the context keeps nothing of it.
  const image = opts.makeSnapshot ? Uint8Array.from(started.snapshot()) : null;
  started.cutBridges();
  return {
    handle: (request, limits) => started.handle(request, limits),
    heapBytes: () => started.heap(),
    refusedGrows: () => api.refused(),
    snapshot: () => {
      if (!image) throw new Error('this interpreter was not started to make a snapshot');
      return image;
    },
  };
}
