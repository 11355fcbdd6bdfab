// The seeding stage: proposals until each buffer holds its target of valid, distinct tasks, with the
// validation self-play uses (duplicates and copies rejected), persisted round by round so a cut-short
// stage resumes; in `azr generate` (a seeds file beside the dataset) and in `azr train` (the run's
// buffers, metrics.jsonl iteration 0, state.json).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createExecutor } from '../../src/executor/index.js';
import type { Completion, GenerateRequest, Policy } from '../../src/policy/types.js';
import { PRESETS, resolveConfig, rolloutSettingsOf } from '../../src/run/config.js';
import { readMetricsFile } from '../../src/run/metrics.js';
import { openSession } from '../../src/run/session.js';
import { runGenerateMode } from '../../src/selfplay/generate.js';
import { runSeeding, seedsHeld, seedTrainingRun } from '../../src/selfplay/seeding.js';
import {
  ProgramForms,
  readTaskFile,
  type Task,
  TaskBuffer,
  type TaskType,
  toTaskRecord,
} from '../../src/tasks/index.js';
import { Rng } from '../../src/util/rng.js';

const dir = mkdtempSync(join(tmpdir(), 'azr-seeding-'));
const executor = await createExecutor({ workers: 1, langs: ['python'] });
after(async () => {
  await executor.close();
  rmSync(dir, { recursive: true, force: true });
});

const TYPES: TaskType[] = ['deduction', 'abduction', 'induction'];

/**
 * A proposer in the reference format: a new program `a * k + j` per proposal, except that every third
 * repeats the one before (a duplicate), every fifth is cut off (a format error), and every seventh copies
 * the identity program it was shown. Induction proposals write a message and four inputs.
 */
function scriptedProposer(): Policy & { requests: GenerateRequest[] } {
  let n = 0;
  const requests: GenerateRequest[] = [];
  return {
    requests,
    async generate(reqs) {
      requests.push(...reqs);
      return reqs.map((r) => {
        n++;
        const k = n % 3 === 0 ? n - 1 : n;
        const think = 'I will write a function.</think>\n<answer>\n';
        let text: string;
        if (n % 5 === 0) text = `${think}\`\`\`python\ndef f(a):`;
        else if (r.prompt.includes('choose'))
          text = `${think}\`\`\`message\nmultiplies\n\`\`\`\n${[1, 2, 3, 4].map((x) => `\`\`\`input\n${x + k}\n\`\`\``).join('\n')}\n</answer>`;
        else if (n % 7 === 0)
          text = `${think}\`\`\`python\ndef f(a):\n    return a\n\`\`\`\n\`\`\`input\n1\n\`\`\`\n</answer>`;
        else
          text = `${think}\`\`\`python\ndef f(a):\n    return a * ${k} + ${k % 4}\n\`\`\`\n\`\`\`input\n${k}\n\`\`\`\n</answer>`;
        return Array.from({ length: r.n }, (): Completion => ({ text, finishReason: 'stop' }));
      });
    },
    async close() {},
  };
}

const settings = {
  ...rolloutSettingsOf(PRESETS.default),
  format: { style: 'reference' as const, inductionInputs: 4, grammar: null },
  contextLength: null,
};

test('runSeeding fills every buffer to its target with valid, distinct tasks, shown as references', async () => {
  const buffers = Object.fromEntries(
    TYPES.map((t) => [t, TaskBuffer.open(join(dir, `a-${t}.jsonl`), t, 'python')]),
  ) as Record<TaskType, TaskBuffer>;
  const policy = scriptedProposer();
  const lines: number[] = [];
  const r = await runSeeding({
    policy,
    executor,
    settings,
    types: TYPES,
    buffers,
    target: 6,
    batch: 4,
    rng: new Rng(1),
    forms: new ProgramForms(executor),
    onRound: (round) => {
      lines.push(round.round);
    },
  });
  assert.equal(r.stopped, 'filled');
  for (const t of TYPES) {
    assert.ok(seedsHeld(buffers[t], t, 'python') >= 6, t);
    // Distinct: the buffer never holds a task twice.
    assert.equal(buffers[t].keySet().size, buffers[t].size);
  }
  const reasons = r.slots.map((s) => (s.verdict?.kind === 'valid' ? 'valid' : s.verdict?.reason));
  // A repeated program, and the identity program it was shown, are copies (the program alone is compared).
  assert.ok(reasons.includes('copy') && reasons.includes('unclosed'));
  assert.ok(r.distinctShare > 0 && r.distinctShare < 1);
  assert.deepEqual(
    lines,
    Array.from({ length: r.rounds }, (_, i) => i + 1),
  );
  // Later prompts show the seeds found so far, not only the identity program.
  assert.ok(policy.requests.slice(12).some((q) => /return a \* \d+ \+ \d/.test(q.prompt)));
});

test('azr generate: seeds go to a file beside the dataset, a second run resumes from it, or a seed file is read', async () => {
  const out = join(dir, 'gen.jsonl');
  const common = {
    executor,
    lang: 'python' as const,
    out,
    tasks: 1,
    batch: 3,
    rollouts: 1,
    maxRounds: 1,
    seedFactor: 2,
    inductionInputs: 4,
  };
  // Stopped after the first seeding round: the seeds so far are on disk, nothing in the dataset.
  let rounds = 0;
  const first = await runGenerateMode({
    ...common,
    policy: scriptedProposer(),
    shouldStop: () => rounds++ >= 1,
  });
  assert.equal(first.stopped, 'stopped');
  const seedsFile = `${out}.seeds.jsonl`;
  const afterFirst = readTaskFile(seedsFile).length;
  assert.ok(afterFirst > 0);
  assert.equal(existsSync(out), false);
  // Resumed: the stage goes on from the file until every type holds 2 x 3, then the rounds run.
  const second = await runGenerateMode({ ...common, policy: scriptedProposer() });
  assert.equal(second.seeding?.source, 'proposed');
  assert.equal(second.seeding?.target, 6);
  for (const t of TYPES) assert.ok((second.seeding?.held[t] ?? 0) >= 6, JSON.stringify(second.seeding));
  assert.ok(readTaskFile(seedsFile).length > afterFirst);
  assert.equal(second.rounds, 1);
  // A seed file instead: its tasks are the references, nothing is proposed before round 1.
  const file = join(dir, 'given.jsonl');
  const given: Task[] = [2, 3].map((k) => ({
    type: 'deduction',
    lang: 'python',
    program: `def f(a):\n    return a - ${k}`,
    input: '9',
    output: String(9 - k),
  }));
  writeFileSync(file, given.map((t) => `${JSON.stringify(toTaskRecord(t))}\n`).join(''));
  const policy = scriptedProposer();
  const third = await runGenerateMode({
    ...common,
    out: join(dir, 'gen2.jsonl'),
    seedTasks: file,
    types: ['deduction'],
    policy,
  });
  assert.equal(third.seeding?.source, 'file');
  assert.equal(third.seeding?.held.deduction, 2);
  assert.match(policy.requests[0]?.prompt ?? '', /return a - [23]/);
});

test('azr train: a seeding stage cut short resumes, then writes metrics iteration 0 and marks the run seeded', async () => {
  const config = resolveConfig({
    preset: 'tiny',
    overrides: {
      selfplay: { seedBatchFactor: 2, proposerBatch: 3 },
      answers: { promptStyle: 'reference', constrainedDecoding: false },
    },
  });
  const runDir = join(dir, 'run');
  const open = (resume: boolean) => {
    const session = openSession(runDir, config, resume);
    const buffers = Object.fromEntries(
      TYPES.map((t) => [
        t,
        TaskBuffer.open(
          session.dir.bufferPath(t),
          t,
          'python',
          resume ? (session.state.bufferSizes[t] ?? 1) : undefined,
        ),
      ]),
    ) as Record<TaskType, TaskBuffer>;
    return { session, buffers };
  };
  // First session: aborted after its first round.
  const a = open(false);
  const ac = new AbortController();
  const log: string[] = [];
  const first = await seedTrainingRun({
    ...a,
    settings: rolloutSettingsOf(config),
    policy: scriptedProposer(),
    executor,
    forms: new ProgramForms(executor),
    log: (l) => {
      log.push(l);
      if (l.includes('seed round 1')) ac.abort();
    },
    signal: ac.signal,
  });
  assert.equal(first, 'stopped');
  const committed = JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8'));
  assert.equal(committed.iteration, 0);
  assert.equal(committed.seeded, undefined);
  assert.ok(TYPES.some((t) => committed.bufferSizes[t] > 1));
  assert.equal(readMetricsFile(a.session.dir.metricsPath).records.length, 0);
  // Resumed: the buffers come back at their committed sizes and the stage finishes.
  const b = open(true);
  for (const t of TYPES) assert.equal(b.buffers[t].size, committed.bufferSizes[t]);
  const second = await seedTrainingRun({
    ...b,
    settings: rolloutSettingsOf(config),
    policy: scriptedProposer(),
    executor,
    forms: new ProgramForms(executor),
    log: (l) => log.push(l),
  });
  assert.equal(second, 'done');
  for (const t of TYPES) assert.ok(seedsHeld(b.buffers[t], t, 'python') >= 6);
  const metrics = readMetricsFile(b.session.dir.metricsPath).records;
  assert.equal(metrics.length, 1);
  assert.equal(metrics[0]?.iteration, 0);
  assert.ok((metrics[0]?.types.deduction?.validRate ?? 0) > 0);
  assert.equal(JSON.parse(readFileSync(join(runDir, 'state.json'), 'utf8')).seeded, true);
  // Done is done: a third session does nothing.
  const c = open(true);
  assert.equal(
    await seedTrainingRun({
      ...c,
      settings: rolloutSettingsOf(config),
      policy: scriptedProposer(),
      executor,
      forms: new ProgramForms(executor),
      log: () => {},
    }),
    'none',
  );
  assert.ok(log.some((l) => /seeding stage done/.test(l)));
});
