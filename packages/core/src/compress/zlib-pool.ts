/**
 * The `zlib` backend: node:zlib's deflate in a pool of worker threads, one per core.
 *
 * Always available (no native addon, no WASM file), so it is the last resort of `auto`. Output
 * is zlib's, not libdeflate's: archives are valid but not byte-identical to the native/WASM
 * backends (SPEC §4 promises identity only between those two). Levels above 9 compress as 9.
 *
 * A batch is cut into pieces (pieces.ts) and then into contiguous slices of about equal size, one
 * per worker, so the main thread copies each input once (into the transferred buffer), one big
 * member keeps every worker busy, and the results come back in order.
 * Idle workers are unref'ed, so an idle pool does not keep the process alive; `close()`
 * terminates them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { PyzError } from '../errors.js';
import { zlibLevel } from './levels.js';
import { decodeFileResults, sliceByWeight, terminateWorkers, type FileTask } from './file-tasks.js';
import { GC_FLAG_LOCK } from '../young-gc.js';
import { compressMembers, PIECE_SIZE } from './pieces.js';
import type { CompressedBuffer, CompressedFileResult, CompressionBackend } from './types.js';
import { ZLIB_WORKER_SOURCE } from './zlib-worker.js';

export interface ZlibBackendOptions {
  /**
   * Worker threads to compress on. Each holds one slice of a batch (input and output) in memory
   * at a time; more threads than cores only adds memory.
   * @default os.availableParallelism()
   */
  readonly concurrency?: number;
}

/** Slices smaller than this are not worth a worker round trip of their own. */
const MIN_SLICE_BYTES = 256 * 1024;

/** One message to a worker: buffers to compress, or whole files to read, hash and compress. */
type Task = {
  readonly id: number;
  readonly level: number;
  reject(error: Error): void;
} & ({ readonly inputs: readonly Piece[]; resolve(results: CompressedBuffer[]): void } | { readonly files: readonly FileTask[]; resolve(results: CompressedFileResult[]): void });

interface TaskResult {
  readonly id: number;
  readonly output?: ArrayBuffer;
  readonly lengths?: Float64Array;
  readonly crcs?: Uint32Array;
  readonly files?: { output: ArrayBuffer; meta: Float64Array; digests: Uint8Array; errors?: string[] };
  readonly error?: string;
}

class WorkerSlot {
  readonly worker: Worker;
  task: Task | undefined;

  constructor(onMessage: (slot: WorkerSlot, result: TaskResult) => void, onCrash: (slot: WorkerSlot, error: Error) => void) {
    this.worker = new Worker(ZLIB_WORKER_SOURCE, { eval: true, name: 'pyz-zlib', workerData: { gcLock: GC_FLAG_LOCK } });
    this.worker.on('message', (result: TaskResult) => onMessage(this, result));
    this.worker.on('error', (error) => onCrash(this, error));
    this.worker.on('exit', (code) => onCrash(this, new Error(`zlib worker exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    this.worker.unref();
  }
}

class ZlibBackend implements CompressionBackend {
  readonly name = 'zlib' as const;
  readonly concurrency: number;
  readonly #slots: WorkerSlot[] = [];
  readonly #queue: Task[] = [];
  #nextId = 0;
  #closed = false;

  constructor(concurrency: number) {
    this.concurrency = concurrency;
    // Started now, not at the first task: a worker takes ~30 ms to boot, which then overlaps
    // with the builder listing its inputs. Idle workers are unref'd and keep no process alive.
    for (let index = 0; index < concurrency; index++) {
      this.#slots.push(
        new WorkerSlot(
          (from, result) => this.#onResult(from, result),
          (from, error) => this.#onCrash(from, error),
        ),
      );
    }
  }

  async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
    return compressMembers(inputs, level, (pieces, endsStream, pieceLevel) => this.compressPieces(pieces, endsStream, pieceLevel));
  }

  async compressPieces(pieces: readonly Uint8Array[], endsStream: Uint8Array, level: number): Promise<CompressedBuffer[]> {
    if (this.#closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the zlib compression backend was used after close()', { value: 'zlib' });
    if (!Number.isFinite(level)) {
      throw new PyzError('INVALID_OPTION', `compression level ${String(level)} is not a number`, { value: level, fix: 'use a level from 1 to 12' });
    }
    if (pieces.length === 0) return [];
    const effectiveLevel = Math.max(0, zlibLevel(Math.round(level)));
    const slices = sliceByWeight(
      pieces.map((piece, index) => ({ piece, size: piece.length, endsStream: endsStream[index]! })),
      this.concurrency,
      MIN_SLICE_BYTES,
    );
    return this.#queueSlices<CompressedBuffer>(slices.length, (index, resolve, reject) => ({ id: this.#nextId++, level: effectiveLevel, inputs: slices[index]!, resolve, reject }));
  }

  /** Files up to 4 MiB, cut into pieces in the worker; the builder streams bigger ones. */
  readonly fileLimit: number = 4 * PIECE_SIZE;

  async compressFiles(files: readonly FileTask[], level: number): Promise<CompressedFileResult[]> {
    if (this.#closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the zlib compression backend was used after close()', { value: 'zlib' });
    if (files.length === 0) return [];
    const effectiveLevel = Math.max(0, zlibLevel(Math.round(level)));
    const slices = sliceByWeight(files, this.concurrency);
    return this.#queueSlices<CompressedFileResult>(slices.length, (index, resolve, reject) => ({ id: this.#nextId++, level: effectiveLevel, files: slices[index]!, resolve, reject }));
  }

  /** Queues one task per slice (`task` makes it) and resolves with all results, slice by slice. */
  async #queueSlices<R>(count: number, task: (index: number, resolve: (results: R[]) => void, reject: (error: Error) => void) => Task): Promise<R[]> {
    const results = await Promise.all(
      Array.from(
        { length: count },
        (_, index) =>
          new Promise<R[]>((resolve, reject) => {
            this.#queue.push(task(index, resolve, reject));
            this.#dispatch();
          }),
      ),
    );
    return results.flat();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new PyzError('BACKEND_UNAVAILABLE', 'the zlib compression backend was closed while compressing', { value: 'zlib' });
    for (const task of this.#queue.splice(0)) task.reject(closed);
    const slots = this.#slots.splice(0);
    for (const slot of slots) slot.task?.reject(closed);
    await terminateWorkers(slots.map((slot) => slot.worker));
  }

  /** Gives queued tasks to idle workers, starting workers up to `concurrency`. */
  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((candidate) => candidate.task === undefined);
      if (slot === undefined) {
        if (this.#slots.length >= this.concurrency) return;
        slot = new WorkerSlot(
          (from, result) => this.#onResult(from, result),
          (from, error) => this.#onCrash(from, error),
        );
        this.#slots.push(slot);
      }
      const task = this.#queue.shift()!;
      slot.task = task;
      slot.worker.ref(); // busy: keep the process alive until the result arrives
      if ('files' in task) {
        slot.worker.postMessage({ id: task.id, level: task.level, paths: task.files.map((file) => file.path), fileLimit: this.fileLimit });
        continue;
      }
      const { buffer, lengths, endsStream } = packInputs(task.inputs);
      slot.worker.postMessage({ id: task.id, level: task.level, input: buffer, lengths, endsStream }, [buffer, lengths.buffer, endsStream.buffer]);
    }
  }

  #onResult(slot: WorkerSlot, result: TaskResult): void {
    // Closed: close() holds the worker ref'd until its 'exit'; a late result must not unref it.
    if (this.#closed) return;
    const task = slot.task;
    slot.task = undefined;
    slot.worker.unref();
    if (task === undefined || task.id !== result.id) return;
    if ('files' in task) {
      if (result.files === undefined) task.reject(new PyzError('INTERNAL', `zlib worker failed: ${result.error ?? 'malformed result'}`, { value: 'zlib' }));
      else task.resolve(decodeFileResults(task.files.length, new Uint8Array(result.files.output), result.files.meta, result.files.digests, result.files.errors));
    } else if (result.error !== undefined || result.output === undefined || result.lengths === undefined || result.crcs === undefined) {
      task.reject(new PyzError('INTERNAL', `zlib worker failed: ${result.error ?? 'malformed result'}`, { value: 'zlib' }));
    } else {
      const output = new Uint8Array(result.output);
      const compressed: CompressedBuffer[] = [];
      let offset = 0;
      for (let index = 0; index < result.lengths.length; index++) {
        const length = result.lengths[index]!;
        compressed.push({ compressed: output.subarray(offset, offset + length), crc32: result.crcs[index]! });
        offset += length;
      }
      task.resolve(compressed);
    }
    this.#dispatch();
  }

  #onCrash(slot: WorkerSlot, error: Error): void {
    const index = this.#slots.indexOf(slot);
    if (index < 0) return; // already removed (terminated by close, or a second event)
    this.#slots.splice(index, 1);
    slot.task?.reject(new PyzError('INTERNAL', `zlib worker crashed: ${error.message}`, { value: 'zlib', cause: error }));
    slot.task = undefined;
    if (!this.#closed) this.#dispatch();
  }
}

/** A piece of a member (pieces.ts) and whether the member's stream ends with it. */
interface Piece {
  readonly piece: Uint8Array;
  /** Its length: the weight sliceByWeight balances. */
  readonly size: number;
  readonly endsStream: number;
}

/** Copies pieces back to back into one transferable buffer (the caller's buffers stay intact). */
function packInputs(inputs: readonly Piece[]): { buffer: ArrayBuffer; lengths: Float64Array<ArrayBuffer>; endsStream: Uint8Array<ArrayBuffer> } {
  const lengths = new Float64Array(inputs.length);
  const endsStream = new Uint8Array(inputs.length);
  let total = 0;
  inputs.forEach((input, index) => {
    lengths[index] = input.piece.length;
    endsStream[index] = input.endsStream;
    total += input.piece.length;
  });
  const buffer = new ArrayBuffer(total);
  const packed = new Uint8Array(buffer);
  let offset = 0;
  for (const input of inputs) {
    packed.set(input.piece, offset);
    offset += input.piece.length;
  }
  return { buffer, lengths, endsStream };
}

/**
 * Starts the `zlib` backend. Its workers boot in the background (not awaited): creating it is
 * cheap, and the first batch queues until a worker is up.
 */
export async function createZlibBackend(options: ZlibBackendOptions = {}): Promise<CompressionBackend> {
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new PyzError('INVALID_OPTION', `compression concurrency must be a positive integer, got ${String(concurrency)}`, {
      value: concurrency,
      fix: 'pass a number of threads such as 4, or leave it unset to use every core',
    });
  }
  return new ZlibBackend(concurrency);
}
