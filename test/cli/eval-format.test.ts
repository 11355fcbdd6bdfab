// `azr eval RUN` scores a run's checkpoint in the run's own answer format: a tiny run trained with
// reference prompts and free decoding is evaluated with reference prompts and free decoding, not with the
// compact, grammar-constrained defaults.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { checkpointFormat, resolveCheckpoint } from '../../src/cli/checkpoint-arg.js';
import { evaluateTasks } from '../../src/eval/heldout.js';
import type { Completion, GenerateRequest } from '../../src/policy/types.js';
import { answerFormatOf, PRESETS } from '../../src/run/config.js';
import { fromTaskRecord, solverPrompt, type TaskRecord } from '../../src/tasks/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cli = join(root, 'src', 'cli', 'main.js');
const heldout = join(root, '..', 'eval', 'heldout.jsonl');
const dir = mkdtempSync(join(tmpdir(), 'azr-eval-format-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const azr = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('azr eval RUN asks and decodes as the run was trained', async () => {
  const config = join(dir, 'reference.json');
  // Reference prompts are long: a context that holds them beside the tiny preset's budgets.
  writeFileSync(
    config,
    JSON.stringify({
      answers: { promptStyle: 'reference', constrainedDecoding: false },
      model: { contextLength: 1024 },
    }),
  );
  const run = join(dir, 'run');
  const train = azr(['train', '--preset', 'tiny', '--config', config, '--iterations', '1', '--out', run]);
  assert.equal(train.status, 0, train.stderr);

  const { format, source } = await checkpointFormat(await resolveCheckpoint(run));
  assert.deepEqual(format, { style: 'reference', inductionInputs: 4, grammar: null });
  assert.equal(source, join(run, 'config.json'));

  const few = join(dir, 'few.jsonl');
  writeFileSync(few, `${readFileSync(heldout, 'utf8').split('\n').slice(0, 3).join('\n')}\n`);
  const ev = azr(['eval', run, '--data', few, '--max-tokens', '8', '--threads', '1']);
  assert.equal(ev.status, 0, ev.stderr);
  assert.match(ev.stdout, /answer format: reference prompts, free decoding \(from .*config\.json\)/);
  const scores = JSON.parse(ev.stdout.trim().split('\n').at(-1) as string);
  assert.equal(typeof scores.mean, 'number');

  // A checkpoint copied out of its run directory: the default preset's format.
  const loose = join(dir, 'loose');
  mkdirSync(loose);
  const target = await resolveCheckpoint(run);
  assert.equal(target.kind, 'builtin');
  copyFileSync(
    join(target.kind === 'builtin' ? target.path : '', 'model.safetensors'),
    join(loose, 'model.safetensors'),
  );
  const lone = await checkpointFormat({ kind: 'builtin', path: join(loose, 'model.safetensors') });
  assert.deepEqual(lone.format, answerFormatOf(PRESETS.default));
  assert.match(lone.source, /default preset/);
});

test('evaluateTasks builds each prompt in the format it is given', async () => {
  const records: TaskRecord[] = readFileSync(heldout, 'utf8')
    .split('\n')
    .filter(Boolean)
    .slice(0, 6)
    .map((l) => JSON.parse(l));
  for (const style of ['compact', 'reference'] as const) {
    const seen: GenerateRequest[] = [];
    const policy = {
      async generate(reqs: readonly GenerateRequest[]): Promise<Completion[][]> {
        seen.push(...reqs);
        return reqs.map(() => [{ text: '', finishReason: 'stop' as const }]);
      },
    };
    const format = { style, inductionInputs: 4, grammar: null };
    const { createExecutor } = await import('../../src/executor/index.js');
    const executor = await createExecutor({ workers: 1, langs: ['python'] });
    try {
      await evaluateTasks(policy, executor, records, { format, maxTokens: 8 });
    } finally {
      await executor.close();
    }
    assert.deepEqual(
      seen.map((q) => q.prompt),
      records.map((r) => solverPrompt(fromTaskRecord(r), { style })),
    );
    assert.ok(seen.every((q) => q.constraint === undefined));
  }
});
