/**
 * The `native` backend: libdeflate in a Node-API addon (native/, Rust without crates, linked with
 * Debian's libdeflate.a). A batch runs as Node-API async work fanned out to one native thread per
 * core, so the event loop is never blocked; big members are cut into pieces (see pieces.ts).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { PyzError } from '../errors.js';
import { resolveLevel } from './levels.js';
import { joinPieces, planPieces, type PiecePlan } from './pieces.js';
import type { CompressedBuffer, CompressionBackend } from './types.js';

export interface NativeBackendOptions {
  /**
   * Path of the `.node` addon.
   * @default `native/pyz-native.<platform>.node` of this repository (see {@link defaultNativeAddonPath})
   */
  addonPath?: string;
  /**
   * Native threads per batch.
   * @default os.availableParallelism()
   */
  concurrency?: number;
}

/** What native/src/lib.rs exports. */
interface NativeAddon {
  deflatePieces(
    inputs: readonly Uint8Array[],
    endsStream: Uint8Array,
    level: number,
    threads: number,
    crcOut: Uint32Array,
  ): Promise<Uint8Array[]>;
}

/** napi-rs's platform suffix: linux-x64-gnu, linux-x64-musl, darwin-arm64, win32-x64-msvc, … */
export function nativePlatformSuffix(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  if (process.platform !== 'linux') return base;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return report?.header?.glibcVersionRuntime ? `${base}-gnu` : `${base}-musl`;
}

/** Where `npm run build -w native` puts the addon for this platform. */
export function defaultNativeAddonPath(): string {
  return fileURLToPath(new URL(`../../../../native/pyz-native.${nativePlatformSuffix()}.node`, import.meta.url));
}

/** Loads the addon; throws (the loader chains the error) when it is missing or cannot load. */
export function createNativeBackend(options: NativeBackendOptions = {}): CompressionBackend {
  const addonPath = options.addonPath ?? defaultNativeAddonPath();
  const concurrency = options.concurrency ?? availableParallelism();
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new PyzError('INVALID_OPTION', `native backend concurrency ${concurrency} is not a positive integer`, {
      value: concurrency,
      fix: 'pass a thread count of 1 or more, or leave it unset for one per core',
    });
  }
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (error) {
    throw new Error(`native addon ${addonPath} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  if (typeof addon.deflatePieces !== 'function') {
    throw new Error(`native addon ${addonPath} does not export deflatePieces(); rebuild it with npm run build -w native`);
  }
  // One addon call at a time: each holds a libuv pool thread (which file reads also need) for its
  // duration, and already uses every core. Batches that arrive meanwhile, at the same level, are
  // merged into the next call, so a batch's tail (one big piece) overlaps the next batch's work.
  let closed = false;
  let running = false;
  const queue: QueuedBatch[] = [];
  const pump = (): void => {
    if (running || queue.length === 0) return;
    const level = queue[0]!.level;
    const round = queue.filter((batch) => batch.level === level);
    queue.splice(0, queue.length, ...queue.filter((batch) => batch.level !== level));
    const pieces = round.flatMap((batch) => batch.plan.pieces);
    const endsStream = new Uint8Array(pieces.length);
    let offset = 0;
    for (const batch of round) {
      endsStream.set(batch.plan.endsStream, offset);
      offset += batch.plan.pieces.length;
    }
    const crcs = new Uint32Array(pieces.length);
    running = true;
    Promise.resolve()
      .then(() => addon.deflatePieces(pieces, endsStream, level, concurrency, crcs))
      .then(
        (compressed) => {
          let first = 0;
          for (const batch of round) {
            const count = batch.plan.pieces.length;
            try {
              batch.resolve(joinPieces(batch.plan, compressed.slice(first, first + count), crcs.subarray(first, first + count)));
            } catch (error) {
              batch.reject(error);
            }
            first += count;
          }
        },
        (error: unknown) => {
          for (const batch of round) batch.reject(error);
        },
      )
      .finally(() => {
        running = false;
        pump();
      });
  };
  return {
    name: 'native',
    concurrency,
    async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
      if (closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the native compression backend was used after close()', { value: 'native', fix: 'load a new backend with loadBackend()' });
      const libdeflateLevel = resolveLevel(level);
      if (inputs.length === 0) return [];
      const plan = planPieces(inputs);
      return new Promise<CompressedBuffer[]>((resolve, reject) => {
        queue.push({ plan, level: libdeflateLevel, resolve, reject });
        pump();
      });
    },
    async close(): Promise<void> {
      // Threads live only for the duration of an addon call; nothing stays allocated between calls.
      closed = true;
    },
  };
}

interface QueuedBatch {
  readonly plan: PiecePlan;
  readonly level: number;
  resolve(results: CompressedBuffer[]): void;
  reject(error: unknown): void;
}
