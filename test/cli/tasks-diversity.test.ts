// `azr tasks RUN --diversity`: the share of distinct programs and of distinct skeletons among a run's
// proposed tasks, through the real executor's normal forms.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tasksCommand } from '../../src/cli/tasks.js';
import { RunDir } from '../../src/run/rundir.js';
import { type Task, TaskBuffer } from '../../src/tasks/index.js';

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  try {
    return { code: await tasksCommand(argv), out: out.join('') };
  } finally {
    process.stdout.write = write;
  }
}

test('azr tasks --diversity counts programs up to names and skeletons up to constants', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'azr-tasks-'));
  try {
    const runDir = new RunDir(dir);
    runDir.create();
    const buffer = TaskBuffer.open(runDir.bufferPath('deduction'), 'deduction', 'python');
    const task = (program: string, input: string): Task => ({
      type: 'deduction',
      lang: 'python',
      program,
      input,
      output: '0',
    });
    buffer.addAll(
      [
        task('def f(a):\n    return a[::-1]', "'ab'"),
        task('def f(s):\n    return s[::-1]  # again', "'cd'"),
        task('def f(x):\n    """Reversed."""\n    return x[::-1]', "'ef'"),
        task('def f(a):\n    return a * 2', '1'),
        task('def f(a):\n    return a * 3', '1'),
        task('def f(a):\n    return len(a)', "'q'"),
      ],
      4,
    );
    const r = await run([dir, '--diversity', '--type', 'deduction']);
    assert.equal(r.code, 0);
    // (The test runner reports on stdout too: only what comes from the command.)
    r.out = r.out.slice(r.out.indexOf('== '));
    // Six proposed tasks (the identity seed is no proposal): four programs, three skeletons.
    assert.equal(
      r.out,
      '== deduction: the last 6 proposed tasks (iterations 4-4)\n' +
        'distinct programs 0.667 (4), distinct skeletons 0.500 (3)\n' +
        '     3 x "def f(a):\\n    return a[::-1]"\n',
    );
    // A later iteration's task counts unless --through leaves it out.
    buffer.addAll([task('def f(a):\n    return a + 1', '1')], 5);
    const all = await run([dir, '--diversity', '--type', 'deduction']);
    assert.match(all.out, /the last 7 proposed tasks \(iterations 4-5\)/);
    const upTo4 = await run([dir, '--diversity', '--type', 'deduction', '--through', '4']);
    assert.equal(upTo4.out.slice(upTo4.out.indexOf('== ')), r.out);
    const two = await run([dir, '--diversity', '--type', 'deduction', '--last', '2', '--through', '4']);
    assert.match(
      two.out,
      /the last 2 proposed tasks[\s\S]*distinct programs 1\.000 \(2\), distinct skeletons 1\.000 \(2\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
