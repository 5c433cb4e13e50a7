/**
 * The `native` backend: libdeflate in a Node-API addon (native/, Rust without crates, linked with
 * Debian's libdeflate.a). Work runs on the addon's pool of one native thread per core, so the event
 * loop is never blocked; big members are cut into pieces (see pieces.ts). Small files can be handed
 * over as paths (`compressFiles`): the addon reads, hashes and deflates them on its threads, which
 * leaves the main thread only the archive writing.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';

import { PyzError } from '../errors.js';
import { resolveLevel } from './levels.js';
import { compressMembers, PIECE_SIZE } from './pieces.js';
import { decodeFileResults, DIGEST_LENGTH, FILE_META_STRIDE, type FileTask } from './file-tasks.js';
import type { CompressedBuffer, CompressedFileResult, CompressionBackend } from './types.js';

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
  deflate(
    sources: readonly (Uint8Array | string)[],
    endsStream: Uint8Array,
    level: number,
    threads: number,
    pieceSize: number,
    fileLimit: number,
    meta: Float64Array,
    digests: Uint8Array,
  ): Promise<[output: Uint8Array, errors: (string | undefined)[] | undefined]>;
  /** False where Node does not export OpenSSL's SHA256 (the addon then takes no file paths). */
  readonly fileTasks: boolean;
  /**
   * Lists the regular files below `root` (relative '/'-paths, '\0'-separated) with 7 numbers
   * each (size, mode, mtime s, mtime ns, ctime s, ctime ns, inode); undefined when the tree holds
   * anything but directories and regular files, or a name that is not UTF-8, or cannot be read.
   */
  walk?(root: string): [paths: string, stats: Uint8Array] | undefined;
}

/**
 * Largest file the addon reads into memory for `compressFiles` (bigger ones come back
 * `oversize`). The builder hands it files of at most 4 MiB; bigger ones it streams piece by piece
 * through `compressPieces`, so this limit only matters to other callers.
 */
export const NATIVE_FILE_LIMIT: number = 64 * 1024 * 1024;

let platformSuffix: string | undefined;

/** napi-rs's platform suffix: linux-x64-gnu, linux-x64-musl, darwin-arm64, win32-x64-msvc, … */
export function nativePlatformSuffix(): string {
  if (platformSuffix !== undefined) return platformSuffix;
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'win32') return (platformSuffix = `${base}-msvc`);
  if (process.platform !== 'linux') return (platformSuffix = base);
  // The addon built here says which C library this is; a diagnostic report (~5 ms, a visible
  // part of a build's start) is asked only when both builds, or neither, are present.
  const built = [`${base}-gnu`, `${base}-musl`].filter((suffix) => existsSync(addonPathFor(suffix)));
  if (built.length === 1) return (platformSuffix = built[0]!);
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  return (platformSuffix = report?.header?.glibcVersionRuntime ? `${base}-gnu` : `${base}-musl`);
}

function addonPathFor(suffix: string): string {
  return fileURLToPath(new URL(`../../../../native/pyz-native.${suffix}.node`, import.meta.url));
}

/** Where `npm run build -w native` puts the addon for this platform. */
export function defaultNativeAddonPath(): string {
  return addonPathFor(nativePlatformSuffix());
}

/** Loads the addon (Node caches it); throws when it is missing, cannot load or is outdated. */
function loadNativeAddon(addonPath: string): NativeAddon {
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (error) {
    throw new Error(`native addon ${addonPath} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }
  if (typeof addon.deflate !== 'function') {
    throw new Error(`native addon ${addonPath} does not export deflate(); rebuild it with npm run build -w native`);
  }
  return addon;
}

/** One file the addon's walk found. */
export interface NativeWalkEntry {
  readonly relativePath: string;
  readonly size: number;
  readonly mode: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
}

/**
 * The addon's directory walk (no stat per directory, no JavaScript per entry): the regular files
 * below `root`, or undefined when the addon does not load or the tree is not plain directories
 * and regular files — the caller then walks it itself (files.ts is the reference for links,
 * names and errors).
 */
export function nativeWalk(root: string): NativeWalkEntry[] | undefined {
  let addon: NativeAddon;
  try {
    addon = loadNativeAddon(defaultNativeAddonPath());
  } catch {
    return undefined;
  }
  const listed = addon.walk?.(root);
  if (listed === undefined) return undefined;
  const [paths, statBytes] = listed;
  const stats = new Float64Array(statBytes.buffer.slice(statBytes.byteOffset, statBytes.byteOffset + statBytes.byteLength));
  if (paths === '') return [];
  return paths.split('\0').map((relativePath, index) => {
    const slot = index * 7;
    return {
      relativePath,
      size: stats[slot]!,
      mode: stats[slot + 1]!,
      // As node:fs computes Stats#mtimeMs and #ctimeMs from seconds and nanoseconds, so the
      // incremental index compares equal whichever walker listed a file.
      mtimeMs: stats[slot + 2]! * 1e3 + stats[slot + 3]! / 1e6,
      ctimeMs: stats[slot + 4]! * 1e3 + stats[slot + 5]! / 1e6,
      ino: stats[slot + 6]!,
    };
  });
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
  const addon = loadNativeAddon(addonPath);
  // Every call goes straight to the addon: its persistent threads take single sources from one
  // FIFO queue, so calls overlap and a call's last (big) piece never leaves a core idle.
  let closed = false;
  const run = async (sources: readonly (Uint8Array | string)[], endsStream: Uint8Array, level: number) => {
    const meta = new Float64Array(sources.length * FILE_META_STRIDE);
    const digests = new Uint8Array(sources.length * DIGEST_LENGTH);
    const [output, errors] = await addon.deflate(sources, endsStream, level, concurrency, PIECE_SIZE, NATIVE_FILE_LIMIT, meta, digests);
    return { output, errors, meta, digests };
  };
  const refuseIfClosed = (): void => {
    if (closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the native compression backend was used after close()', { value: 'native', fix: 'load a new backend with loadBackend()' });
  };
  const backend: CompressionBackend = {
    name: 'native',
    concurrency,
    async compressPieces(pieces: readonly Uint8Array[], endsStream: Uint8Array, level: number): Promise<CompressedBuffer[]> {
      refuseIfClosed();
      const libdeflateLevel = resolveLevel(level);
      if (pieces.length === 0) return [];
      const { output, meta } = await run(pieces, endsStream, libdeflateLevel);
      return pieces.map((_, piece) => {
        const offset = meta[piece * FILE_META_STRIDE]!;
        return { compressed: output.subarray(offset, offset + meta[piece * FILE_META_STRIDE + 1]!), crc32: meta[piece * FILE_META_STRIDE + 2]! };
      });
    },
    async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
      return compressMembers(inputs, level, backend.compressPieces!);
    },
    async close(): Promise<void> {
      // The threads idle between calls and hold nothing that belongs to this backend.
      closed = true;
    },
  };
  if (!addon.fileTasks) return backend;
  return {
    ...backend,
    fileLimit: NATIVE_FILE_LIMIT,
    async compressFiles(files: readonly FileTask[], level: number): Promise<CompressedFileResult[]> {
      refuseIfClosed();
      const libdeflateLevel = resolveLevel(level);
      if (files.length === 0) return [];
      const { output, errors, meta, digests } = await run(files.map((file) => file.path), new Uint8Array(files.length).fill(1), libdeflateLevel);
      return decodeFileResults(files.length, output, meta, digests, errors);
    },
  };
}
