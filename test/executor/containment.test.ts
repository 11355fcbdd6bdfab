// Issue 23: programs that get past the name checks stay inside. The deny-list is the first layer and has
// gaps; each known gap is tried here as a program the deny-list lets run, and the test shows what holds:
// the interpreter's realm has no host to reach (no Function constructor that compiles, no process, no
// fetch), the audit hook refuses frames and heap walks, and the integrity check retires a sandbox whose
// runtime changed. Nothing is written, nothing reaches a loopback listener, and the pool keeps answering.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import { escaped, py } from './attack.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-contain-'));
const sentinel = join(dir, 'pwned');
test.after(() => rmSync(dir, { recursive: true, force: true }));

// The JavaScript each escape would run if it reached a Function constructor: touch the sentinel.
const payload = `return process.getBuiltinModule('fs').writeFileSync(${JSON.stringify(sentinel)}, 'x') || 'node ' + process.version`;

/** Programs that reach Python internals past the deny-list, then try to get to JavaScript and the host. */
function attempts(port: number): [string, string][] {
  const url = `http://127.0.0.1:${port}/`;
  return [
    // The report's reproduction, as filed.
    [
      'class pattern reading __match_args__ (as reported)',
      py(
        [
          'class Any(type):',
          '    def __instancecheck__(cls, obj):',
          '        return True',
          'def attr(obj, name):',
          "    C = Any('C', (), {'__match_args__': (name,)})",
          '    match obj:',
          '        case C(v):',
          '            return v',
          "subs = attr(attr(attr((), '__class__'), '__base__'), '__subclasses__')()",
          "wrap = [c for c in subs if attr(c, '__name__') == '_wrap_close'][0]",
          "sys = attr(attr(wrap, '__init__'), '__globals__')['sys']",
          `run = sys.modules['pyodide_js._api'].constructor.constructor(${JSON.stringify(payload)})`,
          'return run()',
        ].join('\n'),
      ),
    ],
    // The same, spelled so that the deny-list lets it run.
    [
      'class pattern past the deny-list, to the JavaScript API',
      escaped(
        `api = sys.modules.get('pyodide_js._api') or sys.modules.get('pyodide_js')\nreturn api.constructor.constructor(${JSON.stringify(payload)})()`,
      ),
    ],
    [
      'a JavaScript object made by to_js, to its Function constructor',
      escaped(
        `ffi = sys.modules['pyodide'].ffi\no = ffi.to_js([1])\nreturn str(o.constructor.constructor(${JSON.stringify(payload)})())`,
      ),
    ],
    ['run_js', escaped(`return str(sys.modules['pyodide'].code.run_js(${JSON.stringify(payload)}))`)],
    ['the js module', escaped("js = imp('js')\nreturn str(js.process)")],
    // Annotations held in a variable are evaluated by typing (singledispatch's register reads them).
    [
      'singledispatch evaluating an annotation held in a variable',
      py(
        [
          'import functools',
          "u = '_' * 2",
          '@functools.singledispatch',
          'def g(a):',
          '    return 0',
          `ann = 'print.' + u + 'self' + u + '.open(' + ${JSON.stringify(JSON.stringify(sentinel))} + ', "w")'`,
          '@g.register',
          'def h(a: ann):',
          '    return 1',
          'return g(x)',
        ].join('\n'),
      ),
    ],
    [
      'typing.get_type_hints past the deny-list, on an annotation held in a variable',
      escaped(
        [
          `ann = 'print.' + u + 'self' + u + '.open(' + ${JSON.stringify(JSON.stringify(sentinel))} + ', "w")'`,
          'def h(a: ann):',
          '    return 1',
          "return str(attr(sys.modules['typing'], 'get_type_hints')(h))",
        ].join('\n'),
      ),
    ],
    // Field names are pasted into source that dataclasses and namedtuple execute.
    [
      'dataclass with a crafted field name',
      py(
        `import dataclasses\nP = dataclasses.make_dataclass('P', [('a=open(${JSON.stringify(sentinel)}, "w")', int)])\nreturn 1`,
      ),
    ],
    [
      'namedtuple with a crafted field name',
      py(
        `import collections\nP = collections.namedtuple('P', ['a=open(${JSON.stringify(sentinel)}, "w")'])\nreturn 1`,
      ),
    ],
    [
      'string.Formatter reached past the deny-list',
      escaped(
        "F = attr(sys.modules['string'], 'Formatter')\nreturn str(F().get_field('0.' + D('class'), [x], {})[0])",
      ),
    ],
    [
      'operator.attrgetter reached past the deny-list',
      escaped("g = attr(sys.modules['operator'], 'attrgetter')\nreturn str(g(D('class'))(x))"),
    ],
    [
      'pickle loading a global',
      escaped("p = imp('pickle')\nreturn str(p.loads(b'cos\\nsystem\\n(S\\'touch x\\'\\ntR.'))"),
    ],
    ['marshal loading code', escaped("m = imp('marshal')\nreturn str(m.loads(m.dumps(1)))")],
    [
      'copyreg and copy through __reduce__',
      py(
        "import copy\nclass R:\n    def __reduce__(self):\n        return (print, ('x',))\nreturn str(copy.copy(R()))",
      ),
    ],
    ['gc.get_referrers', escaped("return len(imp('gc').get_referrers(sys))")],
    [
      'frames through a generator',
      escaped("def g():\n    yield 1\ngen = g()\nreturn str(attr(gen, 'gi_frame'))"),
    ],
    [
      '__subclasses__ walk to os.system',
      escaped(
        [
          "subs = attr(object, D('subclasses'))()",
          "wrap = [c for c in subs if attr(c, D('name')) == '_wrap_close'][0]",
          "os = attr(attr(wrap, D('init')), D('globals'))['sys'].modules['os']",
          `return attr(os, 'system')('touch ' + ${JSON.stringify(JSON.stringify(sentinel))})`,
        ].join('\n'),
      ),
    ],
    ['ctypes', escaped("return str(imp('ctypes').CDLL(None))")],
    [
      "the realm's own Function through the FFI",
      escaped("return str(sys.modules['pyodide'].ffi.to_js([1]).constructor.constructor.prototype)"),
    ],
    // The network, which Node's permission model does not cover.
    [
      'pyodide.http.pyfetch',
      escaped(`h = sys.modules['pyodide'].http\nreturn str(h.pyfetch(${JSON.stringify(url)}))`),
    ],
    ['pyodide.http.open_url', escaped(`return str(imp('pyodide.http').open_url(${JSON.stringify(url)}))`)],
    ['js.fetch', escaped(`return str(imp('js').fetch(${JSON.stringify(url)}))`)],
    [
      'XMLHttpRequest through a Function constructor',
      escaped(
        `F = sys.modules['pyodide'].ffi.to_js([1]).constructor.constructor\nreturn str(F('const r = new XMLHttpRequest(); r.open("GET", ${JSON.stringify(url)}, false); r.send(); return r.status')())`,
      ),
    ],
    ['urllib', escaped(`return str(imp('urllib.request').urlopen(${JSON.stringify(url)}, timeout=1))`)],
    ['a socket', escaped(`s = imp('socket').create_connection(('127.0.0.1', ${port}))\nreturn 1`)],
  ];
}

/** The result is contained: a failure, or text with nothing of the host in it. */
function contained(name: string, r: { ok: boolean; output?: string; kind?: string; message?: string }): void {
  if (r.ok)
    assert.doesNotMatch(
      String(r.output),
      /node v\d|process|require|\/etc\//,
      `${name}: ${JSON.stringify(r)}`,
    );
  else assert.doesNotMatch(String(r.message), /node v\d/, `${name}: ${JSON.stringify(r)}`);
}

async function listener(): Promise<{ server: Server; port: number; connections: () => number }> {
  let n = 0;
  const server = createServer((s) => {
    n++;
    s.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as { port: number }).port, connections: () => n };
}

test('each known gap of the deny-list is contained, and the pool keeps answering correctly', async () => {
  const net = await listener();
  const ex = await createExecutor({ workers: 1, langs: ['python'], limits: { timeoutMs: 5000 } });
  try {
    for (const [name, program] of attempts(net.port)) {
      const r = await ex.run('python', program, '1');
      contained(name, r);
      const probe = await ex.matches('python', py('return x + 1'), '1', '3');
      assert.ok(probe.ok && !probe.equal, `after ${name}: ${JSON.stringify(probe)}`);
    }
    const right = await ex.matches('python', py('return x + 1'), '1', '2');
    assert.ok(right.ok && right.equal);
  } finally {
    await ex.close();
    net.server.close();
  }
  assert.equal(existsSync(sentinel), false, 'no program wrote the sentinel');
  assert.equal(net.connections(), 0, 'no connection reached the loopback listener');
});

test('without a network namespace (the `unshare -n` probe forced to fail) no program reaches a loopback listener', async () => {
  // A PATH whose `unshare` always fails, so the executor starts its sandboxes without a private network
  // namespace, as on macOS or in a container without user namespaces.
  const bin = join(dir, 'bin');
  const { mkdirSync } = await import('node:fs');
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, 'unshare'), '#!/bin/sh\nexit 1\n');
  chmodSync(join(bin, 'unshare'), 0o755);
  const net = await listener();
  const index = new URL('../../src/executor/index.js', import.meta.url).href;
  const programs = attempts(net.port);
  const script = `
    const { createExecutor } = await import(${JSON.stringify(index)});
    const programs = ${JSON.stringify(programs)};
    const ex = await createExecutor({ workers: 1, langs: ['python'], limits: { timeoutMs: 5000 } });
    const out = [];
    for (const [, program] of programs) out.push(await ex.run('python', program, '1'));
    await ex.close();
    process.stdout.write(JSON.stringify(out));`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  net.server.close();
  assert.equal(code, 0, stderr);
  assert.match(stderr, /`unshare -n` is not available/, 'the probe failed, so no namespace was used');
  const results = JSON.parse(stdout) as { ok: boolean; output?: string; message?: string }[];
  assert.equal(results.length, programs.length);
  results.forEach((r, i) => {
    contained(programs[i]?.[0] as string, r);
  });
  assert.equal(net.connections(), 0, 'no connection reached the loopback listener');
  assert.equal(existsSync(sentinel), false);
});
