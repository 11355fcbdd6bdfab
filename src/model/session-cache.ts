// ONNX Runtime sessions by key (a graph and, for graphs built for one shape, the shape), at most
// `capacity` of them alive. Each session keeps its own memory: with the CPU arena on, as much as its
// largest run ever needed. When every sampling batch size and training length had its own session, an
// unbounded cache grew one training process past 23 GB in 20 minutes.
// Least recently used sessions are released first; a session still running is released when its last
// run ends.
import type * as ort from 'onnxruntime-node';

interface Entry {
  session: Promise<ort.InferenceSession>;
  busy: number;
  evicted: boolean;
}

export class SessionCache {
  private readonly entries = new Map<string, Entry>();
  /** Sessions created so far (for tests and diagnostics). */
  created = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`session cache capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** Runs the session for `key`, creating it with `create` when it is not alive. */
  async run(
    key: string,
    create: () => Promise<ort.InferenceSession>,
    feeds: ort.InferenceSession.FeedsType,
    fetches?: ort.InferenceSession.FetchesType,
  ): Promise<ort.InferenceSession.ReturnType> {
    let entry = this.entries.get(key);
    if (entry) {
      // Most recently used last: Map keeps insertion order.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      const made: Entry = { session: create(), busy: 0, evicted: false };
      this.created++;
      // A session that failed to build is forgotten, so the next call tries again.
      made.session.catch(() => {
        if (this.entries.get(key) === made) this.entries.delete(key);
      });
      this.entries.set(key, made);
      entry = made;
      this.evict();
    }
    entry.busy++;
    try {
      const session = await entry.session;
      return await (fetches ? session.run(feeds, fetches) : session.run(feeds));
    } finally {
      entry.busy--;
      if (entry.evicted && entry.busy === 0) void release(entry);
    }
  }

  /** Releases every session; those with runs in flight are released when the runs end. */
  async clear(): Promise<void> {
    const idle = [...this.entries.values()].map(retire);
    this.entries.clear();
    await Promise.all(idle);
  }

  private evict(): void {
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      this.entries.delete(key);
      void retire(entry);
    }
  }
}

function retire(entry: Entry): Promise<void> {
  entry.evicted = true;
  return entry.busy === 0 ? release(entry) : Promise.resolve();
}

function release(entry: Entry): Promise<void> {
  return entry.session.then((s) => s.release()).catch(() => {});
}
