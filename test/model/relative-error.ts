// How far a computed vector or matrix is from a reference, as the model tests measure it.
import assert from 'node:assert/strict';

/** Largest |got - want| over the largest |want|: "relative" for a logit vector or a gradient matrix. */
export function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs((got[i] as number) - (want[i] as number)));
    scale = Math.max(scale, Math.abs(want[i] as number));
  }
  assert.ok(scale > 0, 'the reference is all zeros');
  return diff / scale;
}
