/**
 * The `wasm` backend: the same libdeflate version as the native addon, compiled by
 * `native/build.sh` to a WASM module without imports, run in a pool of worker threads (one per
 * core). Pieces (see pieces.ts) go to whichever worker is idle, largest first, so one big member
 * keeps every worker busy and small members fill in around it. Output is byte-identical to the
 * native backend's.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { PyzError } from '../errors.js';
import { resolveLevel } from './levels.js';
import { decodeFileResults, sliceByWeight, terminateWorkers, type FileTask } from './file-tasks.js';
import { GC_FLAG_LOCK } from '../young-gc.js';
import { compressMembers, PIECE_SIZE } from './pieces.js';
import type { CompressedBuffer, CompressedFileResult, CompressionBackend } from './types.js';
import { WASM_WORKER_SOURCE } from './wasm-worker.js';

export interface WasmBackendOptions {
  /**
   * Path of the WASM module.
   * @default `native/build/pyz-deflate.wasm` of this repository (see {@link defaultWasmPath})
   */
  wasmPath?: string;
  /**
   * Worker threads.
   * @default os.availableParallelism()
   */
  concurrency?: number;
}

/** The part of the WebAssembly JS API used here (the tsconfig's `lib` has no DOM/WebAssembly types). */
interface WebAssemblyApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  Module: {
    imports(module: WasmModule): { module: string; name: string; kind: string }[];
    exports(module: WasmModule): { name: string; kind: string }[];
  };
}
/** A compiled `WebAssembly.Module`: opaque here, cloned to each worker through workerData. */
type WasmModule = object;
const webAssembly = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

const REQUIRED_EXPORTS = ['memory', 'pyz_malloc', 'pyz_free', 'pyz_deflate_bound', 'pyz_deflate_piece', 'pyz_crc32'];

/** Where `npm run build -w native` puts the WASM module. */
export function defaultWasmPath(): string {
  return fileURLToPath(new URL('../../../../native/build/pyz-deflate.wasm', import.meta.url));
}

/** What a worker sends back for a batch of files (see file-tasks.ts). */
interface FilesReply {
  readonly output: ArrayBuffer;
  readonly meta: Float64Array;
  readonly digests: Uint8Array;
  readonly errors?: string[];
}

/** One message to a worker: a piece of a member, or a batch of whole files. */
type Task = {
  readonly id: number;
  readonly level: number;
  /** Bytes of work, for largest-first scheduling. */
  readonly weight: number;
  reject(error: Error): void;
} & (
  | { readonly input: Uint8Array; readonly endsStream: boolean; resolve(result: { compressed: Uint8Array; crc32: number }): void }
  | { readonly paths: string[]; resolve(result: FilesReply): void }
);

interface Slot {
  worker: Worker;
  task: Task | undefined;
}

type WorkerReply =
  | { ready: true }
  | { fatal: string }
  | { id: number; compressed: Uint8Array; crc32: number }
  | { id: number; files: FilesReply }
  | { id: number; error: string };

/** Compiles the module and starts the workers; throws (the loader chains it) if either fails. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<CompressionBackend> {
  const wasmPath = options.wasmPath ?? defaultWasmPath();
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new PyzError('INVALID_OPTION', `wasm backend concurrency ${concurrency} is not a positive integer`, {
      value: concurrency,
      fix: 'pass a worker count of 1 or more, or leave it unset for one per core',
    });
  }
  let module: WasmModule;
  try {
    module = await webAssembly.compile(await readFile(wasmPath));
  } catch (error) {
    throw new Error(`WASM module ${wasmPath} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  const imports = webAssembly.Module.imports(module);
  if (imports.length !== 0) {
    throw new Error(`WASM module ${wasmPath} must have no imports, it has ${imports.map((entry) => `${entry.module}.${entry.name}`).join(', ')}`);
  }
  const exportNames = new Set(webAssembly.Module.exports(module).map((entry) => entry.name));
  const missing = REQUIRED_EXPORTS.filter((name) => !exportNames.has(name));
  if (missing.length > 0) {
    throw new Error(`WASM module ${wasmPath} lacks the exports ${missing.join(', ')}; rebuild it with npm run build -w native`);
  }
  return new WasmPool(module, concurrency).start();
}

class WasmPool implements CompressionBackend {
  readonly name = 'wasm' as const;
  readonly concurrency: number;
  readonly #module: WasmModule;
  readonly #slots: Slot[] = [];
  /** Waiting tasks, smallest first: the next one to run is popped from the end. */
  readonly #waiting: Task[] = [];
  #nextTaskId = 0;
  #closed = false;

  constructor(module: WasmModule, concurrency: number) {
    this.#module = module;
    this.concurrency = concurrency;
  }

  async start(): Promise<this> {
    const ready: Promise<void>[] = [];
    for (let index = 0; index < this.concurrency; index++) ready.push(this.#spawn());
    try {
      await Promise.all(ready);
    } catch (error) {
      await this.close();
      throw error;
    }
    return this;
  }

  async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
    return compressMembers(inputs, level, (pieces, endsStream, pieceLevel) => this.compressPieces(pieces, endsStream, pieceLevel));
  }

  async compressPieces(pieces: readonly Uint8Array[], endsStream: Uint8Array, level: number): Promise<CompressedBuffer[]> {
    if (this.#closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the wasm compression backend was used after close()', { value: 'wasm', fix: 'load a new backend with loadBackend()' });
    const libdeflateLevel = resolveLevel(level);
    if (pieces.length === 0) return [];
    const results = pieces.map(
      (piece, index) =>
        new Promise<{ compressed: Uint8Array; crc32: number }>((resolve, reject) => {
          this.#waiting.push({ id: this.#nextTaskId++, level: libdeflateLevel, weight: piece.length, input: piece, endsStream: endsStream[index] === 1, resolve, reject });
        }),
    );
    this.#waiting.sort((a, b) => a.weight - b.weight);
    this.#dispatch();
    return Promise.all(results);
  }

  /** Files up to 4 MiB, cut into pieces in the worker; the builder streams bigger ones. */
  readonly fileLimit: number = 4 * PIECE_SIZE;

  async compressFiles(files: readonly FileTask[], level: number): Promise<CompressedFileResult[]> {
    if (this.#closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the wasm compression backend was used after close()', { value: 'wasm', fix: 'load a new backend with loadBackend()' });
    const libdeflateLevel = resolveLevel(level);
    if (files.length === 0) return [];
    const slices = sliceByWeight(files, this.concurrency);
    const replies = slices.map(
      (slice) =>
        new Promise<FilesReply>((resolve, reject) => {
          const weight = slice.reduce((sum, file) => sum + file.size, 0);
          this.#waiting.push({ id: this.#nextTaskId++, level: libdeflateLevel, weight, paths: slice.map((file) => file.path), resolve, reject });
        }),
    );
    this.#waiting.sort((a, b) => a.weight - b.weight);
    this.#dispatch();
    const done = await Promise.all(replies);
    return done.flatMap((reply, index) => decodeFileResults(slices[index]!.length, new Uint8Array(reply.output), reply.meta, reply.digests, reply.errors));
  }

  async close(): Promise<void> {
    this.#closed = true;
    const error = new PyzError('INTERNAL', 'the wasm compression backend was closed while compressing');
    for (const task of this.#waiting.splice(0)) task.reject(error);
    const slots = this.#slots.splice(0);
    for (const slot of slots) slot.task?.reject(error);
    await terminateWorkers(slots.map((slot) => slot.worker));
  }

  #spawn(): Promise<void> {
    const worker = new Worker(WASM_WORKER_SOURCE, { eval: true, workerData: { module: this.#module, gcLock: GC_FLAG_LOCK } });
    const slot: Slot = { worker, task: undefined };
    this.#slots.push(slot);
    return new Promise<void>((resolveReady, rejectReady) => {
      let isReady = false;
      worker.on('message', (reply: WorkerReply) => {
        // Closed: close() holds the worker ref'd until its 'exit'; a late reply must not unref it.
        if (this.#closed) return;
        if ('ready' in reply) {
          isReady = true;
          worker.unref();
          resolveReady();
          this.#dispatch();
          return;
        }
        if ('fatal' in reply) {
          rejectReady(new Error(`WASM worker cannot start: ${reply.fatal}`));
          return;
        }
        const task = slot.task;
        slot.task = undefined;
        worker.unref();
        if (task !== undefined && task.id === reply.id) {
          if ('error' in reply) task.reject(new Error(`WASM compression failed: ${reply.error}`));
          else if ('files' in reply && 'paths' in task) task.resolve(reply.files);
          else if ('compressed' in reply && 'input' in task) task.resolve({ compressed: reply.compressed, crc32: reply.crc32 });
          else task.reject(new Error('WASM worker answered with the wrong kind of result'));
        }
        this.#dispatch();
      });
      const onDeath = (error: Error): void => {
        const index = this.#slots.indexOf(slot);
        if (index < 0) return; // closed, or already handled
        this.#slots.splice(index, 1);
        slot.task?.reject(error);
        slot.task = undefined;
        if (!isReady) {
          rejectReady(error);
          return;
        }
        // Keep the pool at full strength; a worker that cannot start again fails its next tasks.
        if (!this.#closed) this.#spawn().catch((spawnError: unknown) => this.#failWaiting(spawnError as Error));
      };
      worker.on('error', onDeath);
      worker.on('exit', (code) => onDeath(new Error(`WASM worker exited with code ${code}`)));
    });
  }

  #failWaiting(error: Error): void {
    if (this.#slots.length > 0) return;
    for (const task of this.#waiting.splice(0)) task.reject(error);
  }

  #dispatch(): void {
    for (const slot of this.#slots) {
      if (this.#waiting.length === 0) return;
      if (slot.task !== undefined) continue;
      const task = this.#waiting.pop()!;
      slot.task = task;
      slot.worker.ref();
      try {
        if ('paths' in task) {
          slot.worker.postMessage({ id: task.id, level: task.level, paths: task.paths, fileLimit: this.fileLimit });
        } else {
          // Posting a view clones its whole ArrayBuffer (a Buffer's may be an 8 KiB pool or a whole
          // file), so copy just the piece and transfer the copy. Not `.slice()`: on a Buffer it is a view.
          const input = new Uint8Array(task.input);
          slot.worker.postMessage({ id: task.id, level: task.level, input, endsStream: task.endsStream }, [input.buffer]);
        }
      } catch (error) {
        slot.task = undefined;
        slot.worker.unref();
        task.reject(error as Error);
      }
    }
  }
}
