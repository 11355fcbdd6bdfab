// One QuickJS runtime and context that many programs run in, one after another, without seeing each
// other. Building a fresh context per run was most of a run's cost (measured: a new context, its
// disposal and the prelude ~360 of ~550 us per check), so the realm is built once and hardened the way
// Hardened JavaScript (SES `lockdown`) does it:
//
// - every object reachable from the global object and from the intrinsics that have no global name
//   (generator, async and iterator prototypes, %TypedArray%, %ThrowTypeError%) is frozen, the global
//   object included, so no program can patch a builtin or pollute a prototype for the next one;
// - a program is compiled as a strict function body by the realm's own Function constructor (held by
//   the host, and a body cannot close the function early), so its top-level names are its own, and an
//   assignment to an undeclared name is a ReferenceError instead of a global;
// - Math.random is a seeded generator reset before every run, and Date reads a clock stopped at 0, so a
//   program that slips past the policy is still deterministic; WeakRef and FinalizationRegistry, whose
//   results would depend on when earlier runs' garbage is collected, are removed;
// - assigning to an own property whose name a frozen prototype also holds (`this.name = ...` in an Error
//   subclass, `o.toString = ...`) would throw on a frozen realm (the "override mistake"), so those few
//   properties are accessors that define the property on the receiver, as SES does.
//
// The host replaces the realm after anything that may have left it in a bad state: a timeout, a memory
// failure, or a job left queued by a promise.
import {
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
  type QuickJSWASMModule,
  shouldInterruptAfterDeadline,
} from 'quickjs-emscripten';
import type { ExecFailure, ExecLimits } from '../types.js';
import { canonical } from './canonical.js';

export class Refused extends Error {
  constructor(
    readonly kind: ExecFailure['kind'],
    message: string,
  ) {
    super(message);
  }
}

export function classify(err: unknown): Refused {
  const e = err as { name?: string; message?: string };
  const name = e?.name ?? 'Error';
  const message = String(e?.message ?? err);
  if (/interrupted/i.test(message)) return new Refused('timeout', 'interrupted at the time limit');
  if (/out of memory|string too long|invalid array length/i.test(message))
    return new Refused('memory', message.slice(0, 120));
  return new Refused('runtime', `${name}: ${message}`.slice(0, 200));
}

// Evaluated once in a new context; answers the three functions the host calls. Written for the realm,
// not for Node: it runs inside QuickJS before anything is frozen.
const SETUP = `(() => {
  'use strict';
  const F = Function;
  const { freeze, getOwnPropertyNames, getOwnPropertySymbols, getOwnPropertyDescriptor, getPrototypeOf,
    defineProperty } = Object;
  const stringify = JSON.stringify;
  const isArray = Array.isArray;

  const SEED = 0x2545f491;
  let s = SEED;
  defineProperty(Math, 'random', { value: function random() {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5; return (s >>> 0) / 4294967296;
  }, writable: true, configurable: true });
  const D = Date;
  const StoppedDate = function Date(...a) { return a.length ? new D(...a) : new D(0); };
  StoppedDate.now = () => 0;
  StoppedDate.UTC = D.UTC;
  StoppedDate.parse = D.parse;
  StoppedDate.prototype = D.prototype;
  defineProperty(D.prototype, 'constructor', { value: StoppedDate, writable: true, configurable: true });
  globalThis.Date = StoppedDate;
  delete globalThis.WeakRef;
  delete globalThis.FinalizationRegistry;

  const overridable = (obj, key) => {
    const d = getOwnPropertyDescriptor(obj, key);
    if (!d || !('value' in d) || !d.writable) return;
    const value = d.value;
    defineProperty(obj, key, {
      get() { return value; },
      set(v) {
        if (this === obj) throw new TypeError('Cannot assign to read only property ' + stringify(String(key)));
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable,
      configurable: false,
    });
  };
  for (const k of ['toString', 'valueOf', 'toLocaleString', 'constructor', 'hasOwnProperty']) {
    overridable(Object.prototype, k);
  }
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError]) {
    for (const k of ['name', 'message', 'toString', 'constructor']) overridable(E.prototype, k);
  }
  overridable(Function.prototype, 'toString');

  const hidden = [
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function () {}),
    getPrototypeOf(async function* () {}),
    getPrototypeOf([][Symbol.iterator]()),
    getPrototypeOf(new Map()[Symbol.iterator]()),
    getPrototypeOf(new Set()[Symbol.iterator]()),
    getPrototypeOf(''[Symbol.iterator]()),
    getPrototypeOf(/a/[Symbol.matchAll]('')),
    getOwnPropertyDescriptor((function () { 'use strict'; return arguments; })(), 'callee').get,
  ];
  const seen = new Set();
  const todo = [globalThis, ...hidden];
  while (todo.length > 0) {
    const o = todo.pop();
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue;
    seen.add(o);
    for (const k of [...getOwnPropertyNames(o), ...getOwnPropertySymbols(o)]) {
      const d = getOwnPropertyDescriptor(o, k);
      todo.push(d.value, d.get, d.set);
    }
    todo.push(getPrototypeOf(o));
    freeze(o);
  }

  const source = (program) => '"use strict";\\n' + program + '\\n;return typeof f === "function" ? f : undefined;';
  const canonical = ${canonical.toString()};
  // Writes the canonical text of simple results (strings, booleans, null, finite numbers other than -0,
  // flat arrays of those: most task outputs) directly, the same text canonical gives: over the held-out
  // programs a check's two runs took 29.5 us this way and 37 us through canonical alone.
  const simple = (x) => typeof x === 'string' || typeof x === 'boolean' || x === null ||
    (typeof x === 'number' && x === x && x !== 1 / 0 && x !== -1 / 0 && (x !== 0 || 1 / x > 0));
  const write = (r) => {
    if (simple(r)) return stringify(r);
    if (!isArray(r)) return canonical(r);
    const parts = [];
    for (let i = 0; i < r.length; i++) {
      const x = r[i];
      if (!simple(x)) return canonical(r);
      parts.push(stringify(x));
    }
    return '[' + parts.join(',') + ']';
  };
  // The last program's compiled body, so the second run of a check does not compile it again; each
  // call of the body still builds fresh top-level bindings and a fresh f (and a strict function cannot
  // reach the function that called it).
  let lastProgram = null;
  let lastBody = null;
  const parse = JSON.parse;
  return freeze({
    load(program) {
      s = SEED;
      if (program !== lastProgram) {
        lastBody = F(source(program));
        lastProgram = program;
      }
      const f = lastBody();
      if (typeof f !== 'function') throw new TypeError('f is not a function');
      return f;
    },
    // Arguments are built anew for every run (a program may change its arguments). Most argument lists
    // are JSON, which JSON.parse reads faster than a compile; the rest (undefined, NaN, Map, ...) and any
    // list naming __proto__ (a literal would set the prototype, JSON.parse an own property) are compiled.
    call(f, args) {
      let a;
      if (args.indexOf('__proto__') === -1) {
        try { a = parse(args); } catch { a = undefined; }
      }
      return write(f(...(a ?? F('return ' + args)())));
    },
    compile(program) { F(source(program)); },
  });
})()`;

/** The realm's entry points, as handles owned by the realm. */
interface EntryPoints {
  load: QuickJSHandle;
  call: QuickJSHandle;
  compile: QuickJSHandle;
}

export class Realm {
  private constructor(
    private readonly rt: QuickJSRuntime,
    private readonly ctx: QuickJSContext,
    private readonly entry: EntryPoints,
    readonly memoryMb: number,
  ) {}

  static create(quickjs: QuickJSWASMModule, limits: ExecLimits): Realm {
    const rt = quickjs.newRuntime();
    rt.setMemoryLimit(limits.memoryMb * 1024 * 1024);
    // Above ~256 KB, deep recursion overflows the host's stack before QuickJS's own check fires.
    rt.setMaxStackSize(256 * 1024);
    const ctx = rt.newContext();
    try {
      const api = ctx.unwrapResult(ctx.evalCode(SETUP, 'realm.js'));
      const entry = {
        load: ctx.getProp(api, 'load'),
        call: ctx.getProp(api, 'call'),
        compile: ctx.getProp(api, 'compile'),
      };
      api.dispose();
      return new Realm(rt, ctx, entry, limits.memoryMb);
    } catch (e) {
      ctx.dispose();
      rt.dispose();
      throw new Error(`the JavaScript realm could not be built: ${(e as Error)?.message ?? String(e)}`);
    }
  }

  /**
   * Run the program's top level and then f(...args), args being a canonical array literal; the canonical
   * text of the result. Throws Refused; `broken` then says whether the realm must be replaced.
   */
  run(program: string, args: string, limits: ExecLimits): string {
    this.rt.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeoutMs));
    const f = this.invoke(this.entry.load, program, (r) =>
      /^SyntaxError/.test(r.message) ? new Refused('syntax', r.message) : r,
    );
    try {
      const text = this.invoke(this.entry.call, [f, args]);
      try {
        const out = this.ctx.typeof(text) === 'string' ? this.ctx.getString(text) : undefined;
        if (out === undefined) throw new Refused('runtime', 'the result has no literal form');
        return out;
      } finally {
        text.dispose();
      }
    } finally {
      f.dispose();
    }
  }

  /** Compile the program without running any of it; throws Refused('syntax'). */
  compile(program: string, limits: ExecLimits): void {
    this.rt.setInterruptHandler(shouldInterruptAfterDeadline(Date.now() + limits.timeoutMs));
    this.invoke(this.entry.compile, program, (r) => new Refused('syntax', r.message)).dispose();
  }

  /** Whether the last run may have left state behind that the next run could see. */
  get broken(): boolean {
    return !this.rt.alive || this.rt.hasPendingJob();
  }

  dispose(): void {
    for (const h of Object.values(this.entry)) h.dispose();
    this.ctx.dispose();
    this.rt.dispose();
  }

  private invoke(
    fn: QuickJSHandle,
    arg: string | [QuickJSHandle, string],
    refine: (r: Refused) => Refused = (r) => r,
  ): QuickJSHandle {
    const ctx = this.ctx;
    const text = ctx.newString(typeof arg === 'string' ? arg : arg[1]);
    try {
      const r =
        typeof arg === 'string'
          ? ctx.callFunction(fn, ctx.undefined, text)
          : ctx.callFunction(fn, ctx.undefined, arg[0], text);
      if (r.error) {
        const err = ctx.dump(r.error);
        r.error.dispose();
        const refused = classify(err);
        throw refused.kind === 'runtime' ? refine(refused) : refused;
      }
      return r.value;
    } finally {
      text.dispose();
    }
  }
}
