// Merging concurrent generate calls into one batch. The loop runs its task types as concurrent
// pipelines so executor work overlaps model work; a model engine, though, is fastest with one big batch
// at a time. This wrapper queues requests that arrive while a batch is running and sends them together
// as the next batch. Requests carry their own seeds, so how they get grouped never changes the samples.
import type { Completion, GenerateRequest, Policy } from './types.js';

interface Pending {
  requests: readonly GenerateRequest[];
  resolve: (value: Completion[][]) => void;
  reject: (err: unknown) => void;
}

export interface CoalescingPolicy extends Policy {
  /** Batches sent to the inner policy so far (for tests and metrics). */
  readonly batches: number;
}

export function coalesce(inner: Policy): CoalescingPolicy {
  let queue: Pending[] = [];
  let running = false;
  let batches = 0;

  async function drain(): Promise<void> {
    running = true;
    while (queue.length > 0) {
      const group = queue;
      queue = [];
      batches++;
      try {
        const all = await inner.generate(group.flatMap((p) => p.requests));
        let at = 0;
        for (const p of group) {
          p.resolve(all.slice(at, at + p.requests.length));
          at += p.requests.length;
        }
      } catch (err) {
        for (const p of group) p.reject(err);
      }
    }
    running = false;
  }

  const policy: CoalescingPolicy = {
    get batches() {
      return batches;
    },
    generate(requests) {
      return new Promise<Completion[][]>((resolve, reject) => {
        queue.push({ requests, resolve, reject });
        // Wait one macrotask before starting, so calls made in the same tick share the first batch.
        if (!running) {
          running = true;
          setImmediate(() => void drain());
        }
      });
    },
    close: () => inner.close(),
  };
  if (inner.update) policy.update = inner.update.bind(inner);
  if (inner.save) policy.save = inner.save.bind(inner);
  return policy;
}
