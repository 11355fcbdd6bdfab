// The hand-written protobuf codec against bytes from the real producers (python/proto_fixture.py): the
// tinker SDK's forward_backward request encoder and SkyRL's sample and forward_backward result encoders.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  decodeForwardBackwardOutput,
  decodeForwardBackwardRequest,
  decodeSampleResponse,
  encodeForwardBackwardRequest,
} from '../../../src/policy/tinker/proto.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const fixture = JSON.parse(readFileSync(join(root, 'test', 'fixtures', 'tinker-proto.json'), 'utf8'));
const bytes = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));
const f32 = (xs: number[]) => xs.map((x) => Math.fround(x));

test('our forward_backward request reads back as the SDK encodes it', () => {
  const f = fixture.forward_backward_request.fields;
  const mine = encodeForwardBackwardRequest({
    modelId: f.model_id,
    seqId: f.seq_id,
    lossFn: f.loss_fn,
    lossFnConfig: f.loss_fn_config,
    data: [
      {
        tokens: f.datum.tokens,
        lossFnInputs: {
          target_tokens: { data: f.datum.target_tokens, dtype: 'int64' },
          logprobs: { data: f.datum.logprobs, dtype: 'float32' },
          advantages: { data: f.datum.advantages, dtype: 'float32' },
        },
      },
    ],
  });
  const sdk = decodeForwardBackwardRequest(bytes(fixture.forward_backward_request.proto));
  const ours = decodeForwardBackwardRequest(mine);
  assert.deepEqual(ours, sdk);
  assert.equal(sdk.modelId, 'model_abc');
  assert.equal(sdk.seqId, 7);
  assert.deepEqual(sdk.data[0]?.tokens, f.datum.tokens);
  assert.deepEqual(sdk.data[0]?.lossFnInputs.target_tokens, {
    data: f.datum.target_tokens,
    dtype: 'int64',
    shape: [4],
  });
  assert.deepEqual(sdk.lossFnConfig, { clip_low_threshold: 0.8 });
});

test("SkyRL's sample result decodes to its tokens, log-probabilities and stop reasons", () => {
  const v = fixture.sample_response.value;
  const got = decodeSampleResponse(bytes(fixture.sample_response.proto));
  assert.deepEqual(
    got.sequences,
    v.sequences.map((s: { tokens: number[]; logprobs: number[]; stop_reason: string }) => ({
      stopReason: s.stop_reason,
      tokens: s.tokens,
      logprobs: f32(s.logprobs),
    })),
  );
  assert.deepEqual(got.promptLogprobs, [null, ...f32(v.prompt_logprobs.slice(1))]);
});

test("SkyRL's forward_backward result decodes to per-datum tensors and metrics", () => {
  const v = fixture.forward_backward_output.value;
  const got = decodeForwardBackwardOutput(bytes(fixture.forward_backward_output.proto));
  assert.equal(got.lossFnOutputType, 'ArrayRecord');
  assert.deepEqual(got.metrics, v.metrics);
  assert.equal(got.lossFnOutputs.length, 2);
  got.lossFnOutputs.forEach((rec, i) => {
    for (const name of ['logprobs', 'elementwise_loss']) {
      const want = v.loss_fn_outputs[i][name];
      assert.deepEqual(rec[name], { data: f32(want.data), dtype: 'float32', shape: want.shape });
    }
  });
});

test('truncated bytes are refused, not misread', () => {
  const b = bytes(fixture.sample_response.proto);
  assert.throws(() => decodeSampleResponse(b.subarray(0, b.length - 3)), /protobuf: truncated/);
});
