// What the built-in model could learn in a self-play run's update budget if every answer were given:
// the same model, optimizer and update path as `azr train`, trained with cross-entropy (advantage 1, no
// PPO ratio, no masks) on the executor's answers to a run's own verified tasks (deduction: the output;
// abduction: the proposer's input; induction: the proposer's program), then scored on the held-out set.
// It is a diagnostic, not the method: self-play must find its answers, so this is an upper reference for
// what the solver can absorb from those tasks in that many updates, not a result of the method.
//
//   npm run bench:ceiling -- RUN_DIR [--updates N] [--per-type N] [--eval-every N] [--seed N] [--threads N]
//                            [--model tiny|small|medium|large] [--lr X]
//   npm run bench:ceiling -- --tasks FILE ...   (train on any task file in the held-out format instead)
//   ... --eval FILE                              (score another task file instead of the held-out set)
//
// `--tasks eval/heldout.jsonl` trains on the held-out tasks themselves: not a generalisation result but a
// capacity check, the most the model can reach on the held-out set in that many updates.
//
// The default budget is the default preset's: about 230 updates in 30 minutes, the solver batch of 16
// tasks per type. Last line: one JSON object with the held-out scores before and after, and the curve.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { HELDOUT_FILE, heldoutScores } from '../src/eval/heldout.js';
import { answerCompletion } from '../src/eval/oracle.js';
import { createExecutor } from '../src/executor/index.js';
import { constraintFor } from '../src/grammar/index.js';
import { MODEL_PRESETS, type ModelPreset } from '../src/model/config.js';
import { encode } from '../src/model/tokenizer.js';
import { createBuiltinPolicy, modelConfigFor } from '../src/policy/builtin.js';
import type { TrainingSample } from '../src/policy/types.js';
import { planAttempt } from '../src/rollout/pipeline.js';
import { PRESETS, rolloutSettingsOf } from '../src/run/config.js';
import type { EvalScores } from '../src/run/metrics.js';

import { fromTaskRecord, parseSolution, readTaskFile, type Task, type TaskType } from '../src/tasks/index.js';
import { Rng } from '../src/util/rng.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    updates: { type: 'string', default: '230' },
    'per-type': { type: 'string', default: '16' },
    'eval-every': { type: 'string', default: '50' },
    seed: { type: 'string', default: '1' },
    threads: { type: 'string' },
    tasks: { type: 'string' },
    model: { type: 'string' },
    lr: { type: 'string' },
    eval: { type: 'string' },
  },
});
const positive = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer, got ${v}`);
  return n;
};
const runDir = positionals[0];
const taskFile = values.tasks;
if (taskFile === undefined ? !runDir || !existsSync(join(runDir, 'buffers')) : !existsSync(taskFile)) {
  process.stderr.write(
    'usage: npm run bench:ceiling -- RUN_DIR (a run of azr train, with its buffers/) | --tasks FILE (JSONL tasks)\n',
  );
  process.exit(2);
}
const modelPreset = values.model ?? PRESETS.default.model.preset;
if (!(modelPreset in MODEL_PRESETS))
  throw new Error(`--model takes one of ${Object.keys(MODEL_PRESETS).join(', ')}, got ${modelPreset}`);
const learningRate = values.lr === undefined ? PRESETS.default.optimizer.learningRate : Number(values.lr);
if (!(learningRate > 0 && learningRate < 1))
  throw new Error(`--lr takes a number in (0, 1), got ${values.lr}`);
const updates = positive('updates', values.updates);
const perType = positive('per-type', values['per-type']);
const evalEvery = positive('eval-every', values['eval-every']);
const seed = positive('seed', values.seed);

const c = PRESETS.default;
const settings = rolloutSettingsOf(c);
const style = settings.format.style;
const types: TaskType[] = ['deduction', 'abduction', 'induction'];
const source = taskFile ?? (runDir as string);
const tasksOf: (type: TaskType) => Task[] =
  taskFile === undefined
    ? (type) => readTaskFile(join(source, 'buffers', `${type}.jsonl`)).map(fromTaskRecord)
    : (type) =>
        readTaskFile(taskFile)
          .map(fromTaskRecord)
          .filter((t) => t.lang === c.lang && t.type === type);
const buffers = Object.fromEntries(types.map((t) => [t, tasksOf(t)])) as Record<TaskType, Task[]>;
for (const t of types) if (buffers[t].length === 0) throw new Error(`${source} has no ${c.lang} ${t} tasks`);
const known = (t: Task) => (t.type === 'deduction' ? t.output : t.type === 'abduction' ? t.input : t.program);
/** The run's answer format (src/tasks/parse.ts): deduction and abduction a literal, induction a fenced program. */
const answerText = (t: Task) =>
  answerCompletion(t.type === 'induction' ? `\`\`\`${t.lang}\n${known(t)}\n\`\`\`` : known(t), style);

const policy = await createBuiltinPolicy(
  modelConfigFor(modelPreset as ModelPreset, c.model.contextLength),
  { seed, optimizer: { ...c.optimizer, learningRate } },
  {
    threads: values.threads === undefined ? c.model.threads : positive('threads', values.threads),
    constraints: constraintFor,
    trainUnderMask: false,
  },
);
const executor = await createExecutor({ workers: 2, langs: [c.lang] });
const evalFile = values.eval ?? HELDOUT_FILE;
const heldout = readTaskFile(evalFile);
const evaluate = (): Promise<EvalScores> => heldoutScores(policy, executor, heldout, c);
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const curve: { updates: number; minutes: number; eval: EvalScores }[] = [];
const t0 = performance.now();
const record = async (u: number) => {
  const e = await evaluate();
  const minutes = (performance.now() - t0) / 60000;
  curve.push({ updates: u, minutes, eval: e });
  console.log(
    `after ${u} updates (${minutes.toFixed(1)} min): deduction ${pct(e.deduction)}  abduction ${pct(e.abduction)}` +
      `  induction ${pct(e.induction)}  mean ${pct(e.mean)}`,
  );
};

console.log(
  `ceiling: ${source}, ${types.map((t) => `${buffers[t].length} ${t}`).join(', ')} tasks; ` +
    `${updates} updates of ${perType} tasks per type, known answers, model ${modelPreset}, learning rate ${learningRate}, seed ${seed}`,
);
await record(0);
const rng = new Rng(seed);
for (let u = 1; u <= updates; u++) {
  const samples: TrainingSample[] = [];
  for (const type of types) {
    for (let i = 0; i < perType; i++) {
      const task = rng.pick(buffers[type]);
      const text = answerText(task);
      const parsed = parseSolution(type, task.lang, text, style);
      if (!parsed.ok || parsed.answer.trim() !== known(task).trim())
        throw new Error(`the known answer does not read back: ${JSON.stringify(text)}`);
      samples.push({
        prompt: planAttempt(settings, task, 1, 0).prompt,
        completion: { text, finishReason: 'stop', tokenIds: encode(text) },
        advantage: 1,
        group: `${type}/solver`,
      });
    }
  }
  const s = await policy.update(samples);
  if (u % 10 === 0)
    console.log(`update ${u}: loss ${s.loss.toFixed(3)}, gradient norm ${s.gradNorm.toFixed(2)}`);
  if (u % evalEvery === 0 || u === updates) await record(u);
}
await executor.close();
await policy.close();
const first = curve[0] as (typeof curve)[number];
const last = curve[curve.length - 1] as (typeof curve)[number];
console.log(
  JSON.stringify({
    run: source,
    eval: values.eval ?? 'held-out',
    model: modelPreset,
    learningRate,
    updates,
    perType,
    seed,
    minutes: Number(last.minutes.toFixed(2)),
    before: first.eval,
    after: last.eval,
    gainPoints: Number((100 * (last.eval.mean - first.eval.mean)).toFixed(1)),
    curve: curve.map((p) => ({ updates: p.updates, mean: p.eval.mean })),
  }),
);
