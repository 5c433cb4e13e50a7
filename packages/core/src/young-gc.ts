/**
 * Minor garbage collections on demand, for the threads that move file bytes around. Node frees an
 * ArrayBuffer only when V8 collects its owner, and V8 collects by JavaScript allocation, not by
 * the megabytes such buffers hold: a compression worker (few objects, many MiB of deflate output)
 * piled up ~30 MiB of dead buffers each, and the builder's main thread 20-30 MiB more, growing
 * with the tree. A minor collection after each few MiB keeps peak RSS flat; one costs 0.1-2 ms.
 *
 * `gc` is not exposed without `--expose-gc`, and V8 flags belong to the whole process. When the
 * host runs with `--expose-gc`, its `gc` is used and no flag is touched. Otherwise the flag is
 * switched on just long enough to take `gc` from a new context, then off again, under one lock
 * (an Int32Array on a SharedArrayBuffer, {@link GC_FLAG_LOCK}, handed to workers as
 * `workerData.gcLock`) so that threads starting together cannot switch it off under each other.
 * Contexts the host creates in that window (microseconds) would get a `gc` too. Where anything
 * fails, the collector does nothing.
 */
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

/** The lock taken while `--expose-gc` is on, shared by every thread of this process. */
export const GC_FLAG_LOCK: Int32Array = new Int32Array(new SharedArrayBuffer(4));

/**
 * A function that runs a minor GC (a no-op where none can be had). Self-contained: workers run
 * its source (see {@link YOUNG_GC_WORKER_SOURCE}), so it may only use its arguments and globals.
 */
export function youngGarbageCollector(lock: Int32Array | undefined, flags: Pick<typeof v8, 'setFlagsFromString'>, contexts: Pick<typeof vm, 'runInNewContext'>): () => void {
  try {
    let gc: unknown = (globalThis as { gc?: unknown }).gc;
    if (typeof gc !== 'function') {
      if (!(lock instanceof Int32Array)) return () => {};
      // Atomics.wait is allowed on Node's main thread too; the lock is only ever held for microseconds.
      while (Atomics.compareExchange(lock, 0, 0, 1) !== 0) Atomics.wait(lock, 0, 1, 20);
      try {
        flags.setFlagsFromString('--expose-gc');
        gc = contexts.runInNewContext('gc');
      } finally {
        flags.setFlagsFromString('--no-expose-gc');
        Atomics.store(lock, 0, 0);
        Atomics.notify(lock, 0, 1);
      }
    }
    if (typeof gc !== 'function') return () => {};
    const collect = gc as (options: { type: 'minor' }) => void;
    return () => collect({ type: 'minor' });
  } catch {
    return () => {};
  }
}

/** Worker-side: defines `collectYoungGarbage()` from `workerData.gcLock`. */
export const YOUNG_GC_WORKER_SOURCE: string = `
const collectYoungGarbage = (${youngGarbageCollector.toString()})(require('node:worker_threads').workerData?.gcLock, require('node:v8'), require('node:vm'));
`;

let mainCollector: (() => void) | undefined;

/** The collector of this (main) thread, taken once. */
export function collectYoungGarbage(): void {
  mainCollector ??= youngGarbageCollector(GC_FLAG_LOCK, v8, vm);
  mainCollector();
}
