/**
 * Incremental rebuilds: a file whose metadata is unchanged since the last build of the same
 * output keeps its digest, and its compressed bytes are copied raw from the previous archive
 * instead of being read and recompressed.
 *
 * What makes this safe:
 * - "unchanged" means same size, mtime, ctime, inode and mode (git's index uses the same
 *   signals); the pip dependency cache never rewrites its files;
 * - raw bytes are reused only when the previous archive is byte-for-byte the one the index
 *   describes (sha256 checked) and was compressed by the same deflate implementation at the same
 *   level, so the result is byte-identical to a full build with the same inputs and options;
 * - anything unexpected (no index, changed or corrupt previous archive, unreadable index) means a
 *   full build with a warning — never a wrong archive.
 *
 * The index lives in `${XDG_CACHE_HOME:-~/.cache}/pyz/index/<hash of the output path>.json`.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import type { FileRecord } from './files.js';
import { PAYLOAD_NAME } from './layout.js';
import type { Logger } from './options.js';
import { buildCacheRoot } from './pip.js';
import { ZipArchive, type ZipArchiveEntry } from './zip/reader.js';

const INDEX_VERSION = 1;

export interface IndexedEntry {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  mode: number;
  /** sha256 hex of the file's bytes. */
  sha256: string;
  method: 0 | 8;
  crc32: number;
  compressedSize: number;
}

interface BuildIndex {
  version: number;
  archive: { size: number; mtimeMs: number; sha256: string };
  /** Which deflate implementation and level produced the entries ('libdeflate:6', 'zlib:6', 'stored'). */
  compression: string;
  entries: Record<string, IndexedEntry>;
}

/** Which backends produce identical bytes: native and WASM run the same libdeflate. */
export function compressionIdentity(backendName: string | null, level: number): string {
  if (backendName === null || level === 0) return 'stored';
  const family = backendName === 'native' || backendName === 'wasm' ? 'libdeflate' : backendName;
  return `${family}:${level}`;
}

function indexPath(output: string, cacheRoot: string): string {
  return path.join(cacheRoot, 'index', `${createHash('sha256').update(path.resolve(output)).digest('hex').slice(0, 32)}.json`);
}

/** sha256 hex of a file, streamed (archives can be larger than memory). */
export async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  // Two buffers for the whole file: a read stream's fresh 1 MiB chunk per read left garbage in
  // proportion to the archive, the last and highest point of a build's peak RSS. The next chunk
  // is read (on the thread pool) while this one is hashed: one after the other, the reads were
  // ~40 % of the time (large corpus: ~50 -> ~30 ms, on the critical path at the end of a build).
  const buffers = [Buffer.allocUnsafe(1 << 20), Buffer.allocUnsafe(1 << 20)];
  const handle = await fs.promises.open(file, 'r');
  try {
    let position = 0;
    let reading = handle.read(buffers[0]!, 0, buffers[0]!.length, position);
    for (let index = 0; ; index ^= 1) {
      const { bytesRead } = await reading;
      if (bytesRead === 0) break;
      position += bytesRead;
      const next = buffers[index ^ 1]!;
      reading = handle.read(next, 0, next.length, position);
      hash.update(buffers[index]!.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/** What a build can reuse from the previous one. */
export interface PreviousBuild {
  /** Digest of an unchanged file, or undefined. */
  digestOf(record: FileRecord): string | undefined;
  /** Raw compressed bytes of an unchanged file (same compression), or undefined. */
  rawEntryOf(record: FileRecord): Promise<{ method: 0 | 8; crc32: number; data: Uint8Array } | undefined>;
  /** How many entries were copied raw. */
  readonly reused: number;
  close(): Promise<void>;
}

function unchanged(record: FileRecord, indexed: IndexedEntry | undefined): indexed is IndexedEntry {
  return (
    indexed !== undefined &&
    record.mtimeMs !== undefined &&
    indexed.size === record.size &&
    indexed.mtimeMs === record.mtimeMs &&
    indexed.ctimeMs === record.ctimeMs &&
    indexed.ino === record.ino &&
    indexed.mode === record.mode
  );
}

/** Opens what the last build of `output` left behind, or returns null (with a warning when something was wrong). */
export async function openPreviousBuild(output: string, compression: string, log: Logger, cacheRoot: string = buildCacheRoot()): Promise<PreviousBuild | null> {
  let index: BuildIndex;
  try {
    index = JSON.parse(await fs.promises.readFile(indexPath(output, cacheRoot), 'utf8')) as BuildIndex;
    if (index.version !== INDEX_VERSION || typeof index.entries !== 'object' || index.entries === null) throw new Error('unknown index version');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`pyz: build index for ${output} is unreadable (${(error as Error).message}); doing a full build`);
    return null;
  }
  const entries = index.entries;
  let archive: ZipArchive | null = null;
  let payload: ZipArchive | null = null;
  let byName = new Map<string, ZipArchiveEntry>();
  /** The previous payload's bytes, read once: thousands of small preads cost more than one big read. */
  let payloadBytes: Uint8Array | null = null;
  const reuseBytes = index.compression === compression;
  if (reuseBytes) {
    try {
      const stat = await fs.promises.stat(output);
      if (stat.size !== index.archive.size || stat.mtimeMs !== index.archive.mtimeMs) throw new Error('it changed since the last build');
      if ((await sha256OfFile(output)) !== index.archive.sha256) throw new Error('its content does not match the last build (corrupt or replaced)');
      archive = await ZipArchive.open(output);
      const payloadEntry = archive.getEntry(PAYLOAD_NAME);
      if (!payloadEntry) throw new Error(`it has no ${PAYLOAD_NAME}`);
      payload = await archive.openNested(payloadEntry);
      byName = new Map(payload.entries.map((entry) => [entry.name, entry]));
      if (payloadEntry.compressedSize <= 512 * 1024 * 1024) payloadBytes = await archive.readRaw(payloadEntry);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`pyz: previous archive ${output} cannot be reused: ${(error as Error).message}; recompressing everything`);
      await payload?.close();
      await archive?.close();
      archive = null;
      payload = null;
      byName = new Map();
    }
  }
  let reused = 0;
  return {
    digestOf(record) {
      const indexed = entries[record.relativePath];
      return unchanged(record, indexed) ? indexed.sha256 : undefined;
    },
    async rawEntryOf(record) {
      const indexed = entries[record.relativePath];
      if (payload === null || !unchanged(record, indexed)) return undefined;
      const entry = byName.get(record.relativePath);
      if (!entry || entry.crc32 !== indexed.crc32 || entry.method !== indexed.method || entry.compressedSize !== indexed.compressedSize || entry.uncompressedSize !== indexed.size) return undefined;
      let data: Uint8Array;
      const offset = entry.localHeaderOffset;
      if (payloadBytes !== null && offset + 30 <= payloadBytes.length && payloadBytes[offset] === 0x50 && payloadBytes[offset + 1] === 0x4b && payloadBytes[offset + 2] === 3 && payloadBytes[offset + 3] === 4) {
        // APPNOTE 4.3.7: local header = 30 bytes, then name (length at 26) and extra (length at 28).
        const start = offset + 30 + (payloadBytes[offset + 26]! | (payloadBytes[offset + 27]! << 8)) + (payloadBytes[offset + 28]! | (payloadBytes[offset + 29]! << 8));
        if (start + entry.compressedSize > payloadBytes.length) return undefined;
        data = payloadBytes.subarray(start, start + entry.compressedSize);
      } else {
        data = await payload.readRaw(entry);
      }
      reused++;
      return { method: indexed.method, crc32: indexed.crc32, data };
    },
    get reused() {
      return reused;
    },
    async close() {
      await payload?.close();
      await archive?.close();
    },
  };
}

/** Records what this build wrote, for the next one. Failures only cost the next build's speed. */
export async function writeBuildIndex(output: string, compression: string, entries: Record<string, IndexedEntry>, archiveSha256: string, log: Logger, cacheRoot: string = buildCacheRoot()): Promise<void> {
  const file = indexPath(output, cacheRoot);
  try {
    const stat = await fs.promises.stat(output);
    const index: BuildIndex = { version: INDEX_VERSION, archive: { size: stat.size, mtimeMs: stat.mtimeMs, sha256: archiveSha256 }, compression, entries };
    await fs.promises.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    await fs.promises.writeFile(temporary, JSON.stringify(index));
    await fs.promises.rename(temporary, file);
  } catch (error) {
    log.warn(`pyz: could not write the build index ${file}: ${(error as Error).message}`);
  }
}
