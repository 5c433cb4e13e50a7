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
import { joinPieces, planPieces } from './pieces.js';
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
  let closed = false;
  return {
    name: 'native',
    concurrency,
    async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
      if (closed) throw new PyzError('INTERNAL', 'the native compression backend was used after close()');
      const libdeflateLevel = resolveLevel(level);
      if (inputs.length === 0) return [];
      const plan = planPieces(inputs);
      const crcs = new Uint32Array(plan.pieces.length);
      const compressed = await addon.deflatePieces(plan.pieces, plan.endsStream, libdeflateLevel, concurrency, crcs);
      return joinPieces(plan, compressed, crcs);
    },
    async close(): Promise<void> {
      // Threads live only for the duration of a batch; nothing stays allocated between batches.
      closed = true;
    },
  };
}
