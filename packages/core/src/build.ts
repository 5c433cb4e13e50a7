/**
 * `buildPyz`: inputs → file list → compression → archive writer → atomic rename.
 * Each stage only consumes what the previous one produced (STYLE: data flows one way).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { loadBackend } from './compress/index.js';
import { crc32Combine, PIECE_SIZE } from './compress/pieces.js';
import type { CompressedBuffer, CompressionBackend } from './compress/types.js';
import { PyzError } from './errors.js';
import { compareNames, mergeFileLists, walkTree, type FileRecord } from './files.js';
import { BOOTSTRAP_PACKAGE, ENVIRONMENT_NAME, MAIN_NAME, PAYLOAD_NAME } from './layout.js';
import { resolveOptions, type BuildOptions, type ResolvedOptions } from './options.js';
import { compressionIdentity, openPreviousBuild, sha256OfFile, writeBuildIndex, type IndexedEntry, type PreviousBuild } from './incremental.js';
import { identifyPythonAsync, pipInstall, pipResultFiles, type PipInstallResult, type PythonIdentity } from './pip.js';
import { checkTargets } from './targets.js';
import { PYZ_VERSION, SHIV_FORMAT_VERSION } from './version.js';
import { ZipWriter, type ZipEntrySink, type ZipEntryWriter } from './zip/writer.js';
import { collectYoungGarbage } from './young-gc.js';

export interface BuildTimings {
  /** Staging the inputs: pip (or its cache) and walking every input tree. */
  inputsMs: number;
  /** Checking the entry point or console script. */
  scanMs: number;
  /** Reading, hashing, compressing and writing the archive, up to the rename. */
  writeMs: number;
  /** sha256 of the result and the build index for the next incremental build. */
  finishMs: number;
  totalMs: number;
}

export interface BuildResult {
  outputPath: string;
  /** Bytes of the .pyz. */
  size: number;
  /** sha256 hex of the .pyz. */
  sha256: string;
  buildId: string;
  /** Files in the payload (site-packages). */
  files: number;
  /** Bytes of those files, uncompressed. */
  payloadBytes: number;
  /** Compression backend that ran ('none' for --uncompressed). */
  backend: string;
  /** How many times pip ran (0 on a dependency-cache hit or without requirements). */
  pipRuns: number;
  /** Entries copied raw from a previous archive instead of being recompressed. */
  reusedEntries: number;
  durationMs: number;
  timings: BuildTimings;
}

/**
 * Files larger than this are streamed piece by piece through a backend that compresses pieces
 * (all but js): read, hashed and deflated in parallel, with only the pieces in flight in memory.
 */
const STREAMED_MEMBER_BYTES = 4 * PIECE_SIZE;
/** Members from this size on get ZIP64 fields from the start (1 MiB of slack under 4 GiB). */
const ZIP64_MEMBER_BYTES = 0xffffffff - PIECE_SIZE;
/**
 * With the js backend, files larger than this go through node:zlib's streaming deflate; with none
 * (--uncompressed), files over STREAMED_MEMBER_BYTES are copied through in chunks.
 */
const STREAMING_THRESHOLD_BYTES = 64 * 1024 * 1024;
/** Small files are grouped so each backend call carries enough work to amortise its overhead. */
const BATCH_BYTES = 2 * 1024 * 1024;
const BATCH_FILES = 128;
/**
 * Bytes read but not yet written, per compression thread (at least 8 MiB in all): caps peak
 * memory whatever the input size. Enough to keep every thread busy — on 2 cores, 8 MiB built
 * the bench corpora as fast as 32 MiB did, with 20-40 MiB less peak RSS.
 */
const IN_FLIGHT_BYTES_PER_THREAD = 4 * 1024 * 1024;
const MIN_IN_FLIGHT_BYTES = 8 * 1024 * 1024;
/**
 * Batches (or pieces, or reused entries) waiting to be written, per compression thread: the cap
 * for trees of tiny files, whose bytes never reach the one above. Without it, 70,000 files of
 * 64 bytes were all queued at once, and their results outlived young-generation GCs.
 */
const PENDING_PER_THREAD = 16;

const BOOTSTRAP_DIRECTORY = new URL('../python/', import.meta.url);

/** The Python runtime files that go into every archive, sorted by archive path. */
export async function bootstrapFiles(): Promise<FileRecord[]> {
  const root = path.resolve(decodeURIComponent(BOOTSTRAP_DIRECTORY.pathname));
  const files = await walkTree(root);
  return files
    .filter((file) => file.relativePath === MAIN_NAME || file.relativePath.startsWith(`${BOOTSTRAP_PACKAGE}/`))
    .map((file) => ({ ...file, mode: 0o644 }))
    .sort((left, right) => compareNames(left.relativePath, right.relativePath));
}

interface CompressedFile {
  record: FileRecord;
  method: 0 | 8;
  crc32: number;
  data: Uint8Array;
  /** sha256 hex of the uncompressed bytes (payload files only). */
  digest?: string;
}

/** Everything the payload stage learns while it streams the files. */
interface PayloadSummary {
  buildId: string;
  hashes: Record<string, string>;
  /** What the next build may reuse. */
  index: Record<string, IndexedEntry>;
  files: number;
  bytes: number;
}

function entryModeOf(record: FileRecord): number {
  // Keep exec bits, normalise the rest: group/other-writable bits make no sense in a cache.
  return record.mode & 0o111 ? 0o755 : 0o644;
}

/**
 * Reads a whole file. Synchronous on purpose: the main thread only reads and hashes while the
 * backend compresses on other threads, and a sync read of a small file costs ~10 µs against
 * ~100 µs for a thread-pool round trip — thousands of files make that the difference.
 */
function readWhole(record: FileRecord): Buffer {
  if (record.content !== undefined) return record.content;
  try {
    return fs.readFileSync(record.sourcePath);
  } catch (error) {
    throw unreadable(record.sourcePath, (error as Error).message, error);
  }
}

async function compressBatchOf(records: FileRecord[], contents: Buffer[], backend: CompressionBackend | null, level: number): Promise<CompressedFile[]> {
  if (backend === null) {
    return records.map((record, index) => ({ record, method: 0, crc32: crc32(contents[index]!), data: contents[index]! }));
  }
  const compressed = await backend.compressBatch(contents, level);
  return records.map((record, index) => {
    const result = compressed[index]!;
    const original = contents[index]!;
    // SPEC §4: an entry that deflate does not shrink is stored.
    return result.compressed.length < original.length
      ? { record, method: 8, crc32: result.crc32, data: result.compressed }
      : { record, method: 0, crc32: result.crc32, data: original };
  });
}

/** A file whose entry was started without ZIP64 fields and then grew past 4 GiB. */
function grewPast4GiB(record: FileRecord): PyzError {
  return unreadable(record.sourcePath, `it grew past 4 GiB while pyz was reading it (listed at ${record.size} bytes)`, undefined, 'build again once nothing is writing to the input files');
}

/** The record as read: a file whose size changed since it was listed keeps no index entry. */
function asRead(record: FileRecord, size: number): FileRecord {
  return size === record.size ? record : { ...record, size, mtimeMs: undefined };
}

/** What `account` needs of a member once it is written. */
interface WrittenMember {
  /** The record as read (see asRead). */
  readonly record: FileRecord;
  readonly method: 0 | 8;
  readonly crc32: number;
  readonly compressedSize: number;
  /** sha256 hex of the bytes written. */
  readonly digest: string;
}

/**
 * Streams one large file without a backend that compresses pieces: copied through stored
 * (--uncompressed), or through node:zlib's streaming deflate (the js backend). Memory stays
 * bounded.
 */
async function writeLargeFile(sink: ZipEntrySink, record: FileRecord, level: number): Promise<WrittenMember> {
  if (level === 0) return copyStored(sink, record);
  const zlib = await import('node:zlib');
  const maybeLarge = record.size >= ZIP64_MEMBER_BYTES;
  const hash = createHash('sha256');
  let checksum = 0;
  let size = 0;
  const descriptor = openForReading(record.sourcePath);
  try {
    const entry = await sink.startEntry({ name: record.relativePath, mode: entryModeOf(record), method: 8, maybeLarge });
    const deflate = zlib.createDeflateRaw({ level: Math.min(level, 9) });
    const pump = (async () => {
      try {
        for (;;) {
          // A fresh buffer per chunk: the deflate stream holds on to what it was given.
          const buffer = Buffer.allocUnsafe(4 * PIECE_SIZE);
          const read = readFully(descriptor, buffer, size, record.sourcePath);
          if (read === 0) break;
          const chunk = buffer.subarray(0, read);
          checksum = crc32(chunk, checksum);
          size += read;
          hash.update(chunk);
          if (size >= ZIP64_MEMBER_BYTES && !maybeLarge) throw grewPast4GiB(record);
          if (!deflate.write(chunk)) await new Promise((resolve) => deflate.once('drain', resolve));
        }
        deflate.end();
      } catch (error) {
        deflate.destroy(error as Error); // ends the loop below with the same error
        throw error;
      }
    })();
    pump.catch(() => {}); // awaited below; must not surface as unhandled first
    let compressedSize = 0;
    for await (const chunk of deflate as AsyncIterable<Buffer>) {
      compressedSize += chunk.length;
      await entry.write(chunk);
    }
    await pump;
    const digest = hash.digest('hex');
    if (compressedSize >= size) {
      // Did not shrink: written again stored (SPEC §4). Rare for files this large.
      await entry.discard();
      return copyStored(sink, record, { size, digest });
    }
    await entry.end({ crc32: checksum, uncompressedSize: size });
    return { record: asRead(record, size), method: 8, crc32: checksum, compressedSize, digest };
  } finally {
    fs.closeSync(descriptor);
  }
}

/** A read failure, reported like every other unreadable input. */
function unreadable(sourcePath: string, reason: string, cause?: unknown, fix = 'make the file readable (chmod u+r) or remove it from the input'): PyzError {
  return new PyzError('FILE_UNREADABLE', `cannot read "${sourcePath}": ${reason}`, {
    value: sourcePath,
    fix,
    cause,
  });
}

/** A big file on its way into the archive piece by piece (see `streamMember` in writePayload). */
interface StreamedMember {
  readonly record: FileRecord;
  /** Opened when its first piece is written: entries before it must be written first. */
  entry?: ZipEntryWriter;
  /** Bytes read so far; final once the last piece is queued. */
  size: number;
  crc32: number;
  compressedSize: number;
  /** sha256 hex, set once the whole file has been read. */
  digest?: string;
}

/** Reads up to `buffer.length` bytes at `position`; fewer only at the end of the file. */
function readFully(descriptor: number, buffer: Buffer, position: number, sourcePath: string): number {
  let filled = 0;
  try {
    while (filled < buffer.length) {
      const read = fs.readSync(descriptor, buffer, filled, buffer.length - filled, position + filled);
      if (read === 0) break;
      filled += read;
    }
  } catch (error) {
    throw unreadable(sourcePath, (error as Error).message, error);
  }
  return filled;
}

/** Opens a file for the chunked reads of big members; a failure is FILE_UNREADABLE. */
function openForReading(sourcePath: string): number {
  try {
    return fs.openSync(sourcePath, 'r');
  } catch (error) {
    throw unreadable(sourcePath, (error as Error).message, error);
  }
}

/**
 * Copies a file into a stored entry, 1 MiB at a time, hashing it as it goes. With `expected` (a
 * member written again stored because deflate did not shrink it, SPEC §4), the file must still
 * be the bytes hashed the first time.
 */
async function copyStored(sink: ZipEntrySink, record: FileRecord, expected?: { readonly size: number; readonly digest: string }): Promise<WrittenMember> {
  const maybeLarge = (expected?.size ?? record.size) >= ZIP64_MEMBER_BYTES;
  const entry = await sink.startEntry({ name: record.relativePath, mode: entryModeOf(record), method: 0, maybeLarge });
  const hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(PIECE_SIZE);
  let checksum = 0;
  let size = 0;
  const descriptor = openForReading(record.sourcePath);
  try {
    for (;;) {
      const read = readFully(descriptor, buffer, size, record.sourcePath);
      if (read === 0) break;
      size += read;
      if (expected !== undefined && size > expected.size) break; // grew: refused below
      if (size >= ZIP64_MEMBER_BYTES && !maybeLarge) throw grewPast4GiB(record);
      const chunk = buffer.subarray(0, read);
      checksum = crc32(chunk, checksum);
      hash.update(chunk);
      await entry.write(chunk);
    }
  } finally {
    fs.closeSync(descriptor);
  }
  const digest = hash.digest('hex');
  if (expected !== undefined && (size !== expected.size || digest !== expected.digest)) {
    throw unreadable(record.sourcePath, 'it changed while pyz was reading it', undefined, 'build again once nothing is writing to the input files');
  }
  await entry.end({ crc32: checksum, uncompressedSize: size });
  return { record: asRead(record, size), method: 0, crc32: checksum, compressedSize: size, digest };
}

/** Compresses files the main thread already read and hashed. */
async function compressRead(records: FileRecord[], contents: Buffer[], digests: string[], backend: CompressionBackend | null, level: number): Promise<CompressedFile[]> {
  const results = await compressBatchOf(records, contents, backend, level);
  return results.map((result, position) => ({ ...result, digest: digests[position] }));
}

/** Reads and hashes one file on the main thread (the path for files a backend does not take). */
function readAndHash(record: FileRecord): { record: FileRecord; content: Buffer; digest: string } {
  const content = readWhole(record);
  const digest = createHash('sha256').update(content).digest('hex');
  // A file that changed size while we built is packed as read; its index entry won't match next time.
  const exact = asRead(record, content.length);
  return { record: exact, content, digest };
}

/**
 * Hands whole files to the backend (read, hashed and deflated off the main thread). A file that
 * grew past the backend's limit since it was listed goes the main-thread way instead.
 */
async function compressByPath(records: FileRecord[], backend: CompressionBackend, level: number): Promise<CompressedFile[]> {
  const results = await backend.compressFiles!(records.map((record) => ({ path: record.sourcePath, size: record.size })), level);
  const compressed: CompressedFile[] = [];
  for (const [position, result] of results.entries()) {
    const record = records[position]!;
    if (result.kind === 'failed') throw unreadable(record.sourcePath, result.message);
    if (result.kind === 'oversize') {
      const read = readAndHash(record);
      compressed.push(...(await compressRead([read.record], [read.content], [read.digest], backend, level)));
      continue;
    }
    const exact = asRead(record, result.size);
    compressed.push({ record: exact, method: result.kind === 'stored' ? 0 : 8, crc32: result.crc32, data: result.data, digest: Buffer.from(result.sha256.buffer, result.sha256.byteOffset, result.sha256.byteLength).toString('hex') });
  }
  return compressed;
}

/**
 * Streams the payload files into `sink` in sorted order: reads are prefetched, compression runs
 * in parallel batches on the backend, writes happen in order. The build id is sha256 over, for
 * each file in path order, its UTF-8 path, a NUL and the sha256 of its bytes — so a digest kept
 * from the previous build (incremental rebuilds) gives the same id as reading the bytes again.
 * Digests arrive with the compressed results, so the id is folded in as entries are written.
 */
async function writePayload(sink: ZipEntrySink, files: readonly FileRecord[], backend: CompressionBackend | null, options: ResolvedOptions, previous: PreviousBuild | null): Promise<PayloadSummary> {
  const build = createHash('sha256');
  const hashes: Record<string, string> = {};
  const index: Record<string, IndexedEntry> = {};
  let bytes = 0;
  const started = performance.now();
  const progress = { filesDone: 0, filesTotal: files.length, bytesDone: 0, bytesTotal: files.reduce((sum, file) => sum + file.size, 0), elapsedMs: 0 };
  /** Results in path order: compressed batches still running, or entries reused as they are. */
  const pending: (
    | { promise: Promise<CompressedFile[]>; bytes: number }
    | { ready: CompressedFile[]; bytes: number }
    | { piece: Promise<CompressedBuffer>; member: StreamedMember; first: boolean; last: boolean; bytes: number }
  )[] = [];
  let inFlight = 0;
  const maxInFlight = Math.max(MIN_IN_FLIGHT_BYTES, (backend?.concurrency ?? 1) * IN_FLIGHT_BYTES_PER_THREAD);
  const maxPending = (backend?.concurrency ?? 1) * PENDING_PER_THREAD;
  const full = (): boolean => inFlight >= maxInFlight || pending.length >= maxPending;

  /** Everything that happens to a file once its bytes are final, in path order. */
  const account = (record: FileRecord, digest: string, method: 0 | 8, checksum: number, compressedSize: number): void => {
    // Strings with their encodings: no Buffer per file (70,000 files made that 10 MB of garbage).
    build.update(record.relativePath, 'utf8').update('\0', 'latin1').update(digest, 'hex');
    bytes += record.size;
    if (options.noModify) hashes[record.relativePath] = digest;
    if (options.incremental && record.mtimeMs !== undefined) {
      index[record.relativePath] = { size: record.size, mtimeMs: record.mtimeMs, ctimeMs: record.ctimeMs!, ino: record.ino!, mode: record.mode, sha256: digest, method, crc32: checksum, compressedSize };
    }
    progress.filesDone++;
    progress.bytesDone += record.size;
    progress.elapsedMs = performance.now() - started;
    options.onProgress?.(progress);
  };

  /** Writes one piece of a streamed member; the last one completes the entry. */
  const drainPiece = async (member: StreamedMember, piece: CompressedBuffer, first: boolean, last: boolean, length: number): Promise<void> => {
    member.entry ??= await sink.startEntry({ name: member.record.relativePath, mode: entryModeOf(member.record), method: 8, maybeLarge: member.record.size >= ZIP64_MEMBER_BYTES });
    await member.entry.write(piece.compressed);
    member.compressedSize += piece.compressed.length;
    member.crc32 = first ? piece.crc32 >>> 0 : crc32Combine(member.crc32, piece.crc32, length);
    if (!last) return;
    // The whole file has been read by now (its last piece is queued only after the last read).
    if (member.compressedSize < member.size) {
      await member.entry.end({ crc32: member.crc32, uncompressedSize: member.size });
      account(asRead(member.record, member.size), member.digest!, 8, member.crc32, member.compressedSize);
    } else {
      await member.entry.discard();
      const stored = await copyStored(sink, member.record, { size: member.size, digest: member.digest! });
      account(stored.record, stored.digest, 0, stored.crc32, stored.compressedSize);
    }
  };

  let drainedSinceCollection = 0;
  /** Bytes written between two minor GCs of this thread (young-gc.ts): dead buffers stay few. */
  const collectEvery = 2 * maxInFlight;
  const drained = (bytes: number): void => {
    inFlight -= bytes;
    drainedSinceCollection += bytes;
    if (drainedSinceCollection >= collectEvery) {
      drainedSinceCollection = 0;
      collectYoungGarbage();
    }
  };

  const drainOne = async (): Promise<void> => {
    const head = pending.shift()!;
    if ('piece' in head) {
      await drainPiece(head.member, await head.piece, head.first, head.last, head.bytes);
      piecesInFlight--;
      drained(head.bytes);
      return;
    }
    // Reused entries skip the await: thousands of them in a rebuild would each cost a turn.
    const results = 'ready' in head ? head.ready : await head.promise;
    for (const result of results) {
      await sink.addEntry({ name: result.record.relativePath, mode: entryModeOf(result.record), method: result.method, crc32: result.crc32, uncompressedSize: result.record.size, data: result.data });
      account(result.record, result.digest!, result.method, result.crc32, result.data.length);
    }
    drained(head.bytes);
  };
  const enqueue = (work: Promise<CompressedFile[]> | CompressedFile[], size: number): void => {
    if (Array.isArray(work)) {
      pending.push({ ready: work, bytes: size });
    } else {
      // Not awaited until its turn: a failure must not surface as an unhandled rejection first.
      work.catch(() => {});
      pending.push({ promise: work, bytes: size });
    }
    inFlight += size;
  };

  // One batch at a time, of one kind: files the main thread reads (`read`) or paths the backend
  // reads itself (`paths`). Switching kinds flushes, so entries stay in path order.
  let batch: FileRecord[] = [];
  let batchKind: 'read' | 'paths' = 'read';
  let batchContents: Buffer[] = [];
  let batchDigests: string[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    enqueue(batchKind === 'paths' ? compressByPath(batch, backend!, options.level) : compressRead(batch, batchContents, batchDigests, backend, options.level), batchBytes);
    batch = [];
    batchContents = [];
    batchDigests = [];
    batchBytes = 0;
  };
  const fileLimit = backend?.compressFiles !== undefined ? (backend.fileLimit ?? 0) : -1;

  /** Read buffers of finished pieces, kept for the next ones (one per thread, plus one). */
  const pieceBuffers: Buffer[] = [];
  const keptPieceBuffers = (backend?.concurrency ?? 1) + 1;
  // Pieces of a big member queued and not yet written: one per thread keeps every thread busy
  // (a piece deflates in ~10 ms, reading and hashing the next takes ~1 ms), and one more is
  // being read. More only holds more memory: a big member then needs no more than small files,
  // so peak memory does not grow with the size of the largest file.
  let piecesInFlight = 0;
  const takePieceBuffer = (): Buffer => pieceBuffers.pop() ?? Buffer.allocUnsafe(PIECE_SIZE);
  const keepPieceBuffer = (buffer: Buffer): void => {
    if (pieceBuffers.length < keptPieceBuffers) pieceBuffers.push(buffer);
  };
  /**
   * Queues a big file piece by piece, cut as `planPieces` cuts (so the bytes are those of a whole
   * read): each piece is hashed here and deflated on the backend while the next one is read, and
   * waits its turn in `pending` like a batch. Memory holds the bytes in flight, not the file.
   */
  const streamMember = async (record: FileRecord, compressPieces: NonNullable<CompressionBackend['compressPieces']>): Promise<void> => {
    const member: StreamedMember = { record, size: 0, crc32: 0, compressedSize: 0 };
    const hash = createHash('sha256');
    const descriptor = openForReading(record.sourcePath);
    try {
      let current = takePieceBuffer();
      let length = readFully(descriptor, current, 0, record.sourcePath);
      for (let first = true; ; first = false) {
        // One piece of look-ahead: a piece is its member's last when nothing follows it.
        const next = length === PIECE_SIZE ? takePieceBuffer() : undefined;
        const nextLength = next === undefined ? 0 : readFully(descriptor, next, member.size + length, record.sourcePath);
        if (next !== undefined && nextLength === 0) keepPieceBuffer(next);
        const last = nextLength === 0;
        const piece = current.subarray(0, length);
        hash.update(piece);
        member.size += length;
        // Its entry starts without ZIP64 fields when the walk saw it under 4 GiB.
        if (member.size >= ZIP64_MEMBER_BYTES && record.size < ZIP64_MEMBER_BYTES) throw grewPast4GiB(record);
        const buffer = current;
        const compressed = compressPieces([piece], Uint8Array.of(last ? 1 : 0), options.level).then((results) => {
          // The backend is done with the input: the buffer takes a later piece (no garbage per MiB).
          keepPieceBuffer(buffer);
          return results[0]!;
        });
        compressed.catch(() => {}); // awaited in its turn; must not surface as unhandled first
        pending.push({ piece: compressed, member, first, last, bytes: length });
        inFlight += length;
        piecesInFlight++;
        if (last) break;
        current = next!;
        length = nextLength;
        while (full() || piecesInFlight >= keptPieceBuffers) await drainOne();
      }
    } finally {
      fs.closeSync(descriptor);
    }
    member.digest = hash.digest('hex');
  };

  for (const record of files) {
    const knownDigest = previous?.digestOf(record);
    const reusable = knownDigest === undefined ? undefined : await previous!.rawEntryOf(record);
    if (knownDigest !== undefined && reusable !== undefined) {
      // Unchanged since the last build: copy its compressed bytes, don't even read the file.
      flush(); // files before it are still batched; writes must stay in path order
      enqueue([{ record, method: reusable.method, crc32: reusable.crc32, data: reusable.data, digest: knownDigest }], reusable.data.length);
    } else if (backend?.compressPieces !== undefined && record.content === undefined && record.size > STREAMED_MEMBER_BYTES) {
      flush();
      await streamMember(record, backend.compressPieces.bind(backend));
    } else if (record.content === undefined && (record.size >= STREAMING_THRESHOLD_BYTES || (backend === null && record.size > STREAMED_MEMBER_BYTES))) {
      flush();
      while (pending.length > 0) await drainOne();
      const written = await writeLargeFile(sink, record, options.level);
      account(written.record, written.digest, written.method, written.crc32, written.compressedSize);
      continue;
    } else if (record.content === undefined && record.size <= fileLimit) {
      if (batchKind !== 'paths') flush();
      batchKind = 'paths';
      batch.push(record);
      batchBytes += record.size;
    } else {
      if (batchKind !== 'read') flush();
      batchKind = 'read';
      const read = readAndHash(record);
      batch.push(read.record);
      batchContents.push(read.content);
      batchDigests.push(read.digest);
      batchBytes += read.content.length;
    }
    if (batchBytes >= BATCH_BYTES || batch.length >= BATCH_FILES) flush();
    while (full()) await drainOne();
  }
  flush();
  while (pending.length > 0) await drainOne();
  return { buildId: build.digest('hex'), hashes, index, files: files.length, bytes };
}

function formatBuiltAt(epochSeconds: number): string {
  // shiv's BUILD_AT_TIMESTAMP_FORMAT, "%Y-%m-%d %H:%M:%S", in UTC.
  return new Date(epochSeconds * 1000).toISOString().replace('T', ' ').slice(0, 19);
}

/** environment.json: shiv's keys with shiv's meaning (so shiv-info reads it), plus ours. */
export function environmentJson(options: ResolvedOptions, summary: PayloadSummary, target: { entryPoint: string | null; script: string | null; preamble: string | null }, builtAtSeconds: number): string {
  const environment = {
    shiv_version: SHIV_FORMAT_VERSION,
    always_write_cache: false,
    build_id: options.buildId ?? summary.buildId,
    built_at: formatBuiltAt(builtAtSeconds),
    compile_pyc: options.compilePyc,
    entry_point: target.entryPoint,
    extend_pythonpath: options.extendPythonpath,
    hashes: summary.hashes,
    no_modify: options.noModify,
    prepend_pythonpath: null,
    preamble: target.preamble,
    reproducible: options.reproducible,
    root: options.root,
    script: target.script,
    pyz_version: PYZ_VERSION,
    layout: 1,
    payload: PAYLOAD_NAME,
    payload_files: summary.files,
    payload_size: summary.bytes,
  };
  return `${JSON.stringify(environment, null, 2)}\n`;
}

async function stageInputs(options: ResolvedOptions, onPipRun: () => void, identity: Promise<PythonIdentity> | undefined): Promise<{ files: FileRecord[]; pip: PipInstallResult | null }> {
  const lists: FileRecord[][] = [];
  for (const directory of options.sitePackages) lists.push(await walkTree(directory));
  let pip: PipInstallResult | null = null;
  if (options.pipArgs.length > 0) {
    pip = await pipInstall({ pipArgs: options.pipArgs, pipPython: options.pipPython, cwd: options.cwd, log: options.log, useCache: options.pipCache, onPipRun, identity });
    const { overrides, generated } = pip;
    lists.push(
      (await pipResultFiles(pip.directory)).map((record) => {
        // A local project's verbatim sources are read from the project (what pip would copy now).
        const source = overrides.get(record.relativePath);
        if (source !== undefined) {
          const stat = fs.statSync(source);
          return { ...record, sourcePath: source, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs, ino: stat.ino };
        }
        const content = generated.get(record.relativePath);
        if (content !== undefined) return { relativePath: record.relativePath, sourcePath: `${record.sourcePath} (rewritten)`, mode: record.mode, size: content.length, content };
        return record;
      }),
    );
  }
  for (const mapping of options.include) lists.push(await walkTree(mapping.from, mapping.to));
  if (options.preamble !== null) {
    const stat = await fs.promises.stat(options.preamble);
    // shiv copies the preamble to site-packages/bin/<name> and records the name.
    lists.push([{ relativePath: `bin/${path.basename(options.preamble)}`, sourcePath: options.preamble, mode: stat.mode & 0o7777, size: stat.size }]);
  }
  // The archive being written never packs itself (an output inside an input tree). Resolving
  // only the paths that end with its name keeps this off the per-file cost.
  const output = path.resolve(options.output);
  const outputName = path.basename(output);
  const files = mergeFileLists(lists).filter((file) => !file.sourcePath.endsWith(outputName) || path.resolve(file.sourcePath) !== output);
  return { files, pip };
}

/**
 * What a long-lived builder keeps between builds (createBuilder). The interpreter that runs pip
 * is asked who it is once per builder instead of once per build (a process start, ~80 ms behind
 * a pyenv shim): a watch session does not swap Python under itself.
 */
export interface BuildState {
  readonly identities: Map<string, Promise<PythonIdentity>>;
}

/** Builds a .pyz. Validates every option before any work starts. */
export async function buildPyz(input: BuildOptions | ResolvedOptions, state?: BuildState): Promise<BuildResult> {
  const options = resolveOptions(input);
  const started = performance.now();
  const log = options.log;
  let pipRuns = 0;

  // Started now, awaited when needed: asking Python who it is (a process start, ~80 ms behind a
  // pyenv shim) and loading the compression backend overlap with walking the inputs.
  let identity = options.pipArgs.length > 0 ? state?.identities.get(options.pipPython) : undefined;
  if (options.pipArgs.length > 0 && identity === undefined) {
    identity = identifyPythonAsync(options.pipPython);
    // A failed check is not remembered: the next build asks again.
    if (state) {
      state.identities.set(options.pipPython, identity);
      identity.catch(() => state.identities.delete(options.pipPython));
    }
  }
  const backendLoading = options.level > 0 ? loadBackend(options.backend) : Promise.resolve(null);
  identity?.catch(() => {});
  backendLoading.catch(() => {});
  let backendTaken = false;
  const releaseBackend = (): void => {
    // A build that fails before compressing still closes the backend it started loading.
    if (!backendTaken) backendLoading.then((loaded) => loaded?.close(), () => {});
  };
  let staged: Awaited<ReturnType<typeof stageInputs>>;
  try {
    await checkOutputWritable(options.output);
    staged = await stageInputs(options, () => pipRuns++, identity);
  } catch (error) {
    releaseBackend();
    throw error;
  }
  const { files, pip } = staged;
  const pipDone = performance.now();
  try {
    let target: Awaited<ReturnType<typeof checkTargets>>;
    try {
      target = await checkTargets(options, files);
    } catch (error) {
      releaseBackend();
      throw error;
    }
    const scanDone = performance.now();
    backendTaken = true;
    const backend = await backendLoading;
    const epochSeconds = options.sourceDateEpoch ?? Math.floor(Date.now() / 1000);
    const bootstrap = await bootstrapFiles();
    log.info(`pyz: packing ${files.length} files (${(files.reduce((sum, file) => sum + file.size, 0) / 1e6).toFixed(1)} MB) with ${backend?.name ?? 'no'} compression`);

    const writer = await ZipWriter.open(options.output, { prefix: Buffer.from(`#!${options.python}\n`, 'utf8'), mode: 0o755, dosTimeEpochSeconds: epochSeconds });
    let summary: PayloadSummary;
    const compression = compressionIdentity(backend?.name ?? null, options.level);
    const previous = options.incremental ? await openPreviousBuild(options.output, compression, log) : null;
    try {
      const bootstrapContents = bootstrap.map(readWhole);
      for (const result of await compressBatchOf(bootstrap, bootstrapContents, backend, options.level)) {
        await writer.addEntry({ name: result.record.relativePath, mode: 0o644, method: result.method, crc32: result.crc32, uncompressedSize: result.record.size, data: result.data });
      }
      // Upper bound of the payload's size: every file stored, plus headers. Past 4 GiB the outer
      // entry needs a ZIP64 extra field, reserved up front (20 bytes).
      const payloadBound = files.reduce((sum, file) => sum + file.size + 2 * Buffer.byteLength(file.relativePath) + 200, 0);
      const payload = await writer.startNestedArchive({ name: PAYLOAD_NAME, mode: 0o644, maybeLarge: payloadBound >= 0xf0000000 });
      summary = await writePayload(payload, files, backend, options, previous);
      const payloadResult = await payload.close();
      if (payloadResult.size >= 0xffffffff && !/python3\.(1[3-9]|[2-9]\d)\b/.test(options.python)) {
        // The outer zip then needs ZIP64, which zipimport reads only from Python 3.13 on.
        throw new PyzError('FILE_TOO_LARGE', `the compressed payload is ${(payloadResult.size / 2 ** 30).toFixed(2)} GiB; archives whose payload is 4 GiB or more after compression start only on Python 3.13+`, {
          value: payloadResult.size,
          fix: 'leave out large incompressible files (ship them separately), or build for Python 3.13+ with -p "/usr/bin/env python3.13"',
        });
      }
      const environment = Buffer.from(environmentJson(options, summary, target, epochSeconds), 'utf8');
      const [environmentEntry] = await compressBatchOf([{ relativePath: ENVIRONMENT_NAME, sourcePath: '', mode: 0o644, size: environment.length }], [environment], backend, options.level);
      await writer.addEntry({ name: ENVIRONMENT_NAME, mode: 0o644, method: environmentEntry!.method, crc32: environmentEntry!.crc32, uncompressedSize: environment.length, data: environmentEntry!.data });
      await writer.commit();
    } catch (error) {
      await writer.abort();
      throw error;
    } finally {
      await previous?.close();
      await backend?.close();
    }
    const writeDone = performance.now();
    const sha256 = await sha256OfFile(options.output);
    if (options.incremental) await writeBuildIndex(options.output, compression, summary.index, sha256, log);
    const result: BuildResult = {
      outputPath: options.output,
      size: (await fs.promises.stat(options.output)).size,
      sha256,
      buildId: options.buildId ?? summary.buildId,
      files: summary.files,
      payloadBytes: summary.bytes,
      backend: backend?.name ?? 'none',
      pipRuns,
      reusedEntries: previous?.reused ?? 0,
      durationMs: 0,
      timings: { inputsMs: pipDone - started, scanMs: scanDone - pipDone, writeMs: writeDone - scanDone, finishMs: 0, totalMs: 0 },
    };
    const finished = performance.now();
    result.timings.finishMs = finished - writeDone;
    result.timings.totalMs = result.durationMs = finished - started;
    return result;
  } finally {
    await pip?.dispose();
  }
}


async function checkOutputWritable(output: string): Promise<void> {
  const directory = path.dirname(output);
  try {
    await fs.promises.mkdir(directory, { recursive: true });
    await fs.promises.access(directory, fs.constants.W_OK);
  } catch (error) {
    throw new PyzError('OUTPUT_NOT_WRITABLE', `cannot write into "${directory}": ${(error as Error).message}`, {
      value: output,
      fix: 'choose an output path in a writable directory',
      cause: error,
    });
  }
  try {
    if ((await fs.promises.stat(output)).isDirectory()) {
      throw new PyzError('OUTPUT_IS_DIRECTORY', `output path "${output}" is a directory`, { value: output, fix: `name a file inside it, e.g. ${path.join(output, 'app.pyz')}` });
    }
  } catch (error) {
    if (error instanceof PyzError) throw error;
  }
}
