/**
 * The archive writer: one zip (optionally behind a prefix such as a `#!` line), streamed to a
 * temporary file beside the target and renamed into place on commit (SPEC §4).
 *
 * Format choices (see ./format.ts for the byte layouts):
 * - real CRC-32 and sizes in every local header, never a data descriptor (APPNOTE 4.4.4 bit 3):
 *   streaming entries get their local header patched in place once the data is written;
 * - offsets count from byte 0 of the file, prefix included, so `unzip -t` sees no extra bytes;
 * - entries in byte order of their UTF-8 names, no directory entries, Unix modes;
 * - ZIP64 records only where a value does not fit (APPNOTE 4.5.3, 4.3.14).
 *
 * Memory stays bounded: data is written as it comes through a 1 MiB buffer; only the central
 * directory records (about 100 bytes per entry) are kept until the end.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { PyzError } from '../errors.js';
import { crc32Combine, updateCrc32 } from './crc32.js';
import { FileSink } from './file-sink.js';
import {
  type CentralDirectoryEntry,
  type CompressionMethod,
  type DosDateTime,
  type EntryHeaderFields,
  METHOD_DEFLATED,
  METHOD_STORED,
  ZIP64_LIMIT,
  compareEncodedNames,
  dosDateTimeFromEpochSeconds,
  encodeCentralDirectory,
  encodeEndOfArchive,
  encodeEntryName,
  encodeLocalFileHeader,
  externalAttributesFromMode,
  needsUtf8Flag,
} from './format.js';

/** Mode of the finished archive: executable, like shiv's output (SPEC §4). */
export const DEFAULT_ARCHIVE_MODE = 0o755;

export interface ZipWriterOptions {
  /**
   * Bytes written before the zip, typically `#!/usr/bin/env python3\n` (PEP 441). Offsets in
   * the zip count from the start of the file, prefix included.
   * @default no prefix
   */
  readonly prefix?: Uint8Array;
  /**
   * Unix permission bits of the finished file (applied before the rename, so the file never
   * appears at the target with other permissions).
   * @default 0o755 (DEFAULT_ARCHIVE_MODE)
   */
  readonly mode?: number;
  /**
   * Timestamp of every entry, in seconds since 1970 (the builder passes SOURCE_DATE_EPOCH or a
   * fixed date). Encoded from UTC fields; clamped to 1980-01-01..2107-12-31.
   */
  readonly dosTimeEpochSeconds: number;
}

/** An entry whose bytes are complete: the raw pass-through of already compressed data. */
export interface AddEntryOptions {
  /** Relative '/'-separated path; must sort after every name added before it. */
  readonly name: string;
  /** Unix permission bits (e.g. 0o644, 0o755); the file type is always "regular file". */
  readonly mode: number;
  /** 0 (stored) or 8 (deflated, `data` is a raw deflate stream, RFC 1951). */
  readonly method: CompressionMethod;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
  readonly uncompressedSize: number;
  /** The bytes as stored in the archive (compressed for method 8). */
  readonly data: Uint8Array;
}

export interface StartEntryOptions {
  readonly name: string;
  readonly mode: number;
  readonly method: CompressionMethod;
  /**
   * Reserve a ZIP64 extra field in the local header, needed if the entry may reach 4 GiB
   * (0xFFFFFFFF bytes, compressed or not). Costs 20 bytes per entry; without it an entry that
   * grows that large is refused at `end()`.
   * @default false
   */
  readonly maybeLarge?: boolean;
}

/** What only the caller knows once all data of a streaming entry is written. */
export interface EndEntryOptions {
  /** CRC-32 of the uncompressed bytes. */
  readonly crc32: number;
  readonly uncompressedSize: number;
}

/** A streaming entry, open until `end()` or `discard()`; nothing else can be added meanwhile. */
export interface ZipEntryWriter {
  readonly name: string;
  /** Appends bytes as stored (compressed for method 8). */
  write(chunk: Uint8Array): Promise<void>;
  /** Completes the entry: patches CRC and sizes into its local header. */
  end(result: EndEntryOptions): Promise<void>;
  /**
   * Rewinds the file to where this entry's local header started, as if it had never been
   * started; the same name may be added again (e.g. stored, after deflate did not shrink it).
   */
  discard(): Promise<void>;
}

export interface StartNestedArchiveOptions {
  readonly name: string;
  readonly mode: number;
  /**
   * Reserve a ZIP64 extra field in the outer local header, needed if the inner archive may
   * reach 4 GiB.
   * @default false
   */
  readonly maybeLarge?: boolean;
}

/** The finished inner archive, which is also the outer entry's data. */
export interface NestedArchiveResult {
  /** Bytes of the inner zip (= the outer entry's compressed and uncompressed size). */
  readonly size: number;
  /** CRC-32 of the inner zip's bytes (= the outer entry's CRC). */
  readonly crc32: number;
  readonly entryCount: number;
}

/** What can receive entries: the archive itself or a nested archive inside it. */
export interface ZipEntrySink {
  /** Entries added so far (completed ones only). */
  readonly entryCount: number;
  addEntry(entry: AddEntryOptions): Promise<void>;
  startEntry(options: StartEntryOptions): Promise<ZipEntryWriter>;
  startNestedArchive(options: StartNestedArchiveOptions): Promise<NestedZipWriter>;
}

/** Result of `ZipWriter.commit()`. */
export interface CommittedArchive {
  /** Absolute path of the archive. */
  readonly path: string;
  /** Size in bytes, prefix included. */
  readonly size: number;
}

/**
 * "An entry that deflate does not shrink is stored" (SPEC §4): true when the deflate stream is
 * strictly smaller than the input. Equal sizes keep method 0, which readers decode for free.
 */
export function isDeflateWorthwhile(uncompressedSize: number, compressedSize: number): boolean {
  return compressedSize < uncompressedSize;
}

/**
 * The `addEntry` fields for a buffer and its deflate stream (as a `CompressionBackend` returns
 * them): deflated when that is smaller, else stored.
 */
export function storedOrDeflated(
  uncompressed: Uint8Array,
  deflated: { readonly compressed: Uint8Array; readonly crc32: number },
): Pick<AddEntryOptions, 'method' | 'crc32' | 'uncompressedSize' | 'data'> {
  return isDeflateWorthwhile(uncompressed.length, deflated.compressed.length)
    ? { method: METHOD_DEFLATED, crc32: deflated.crc32, uncompressedSize: uncompressed.length, data: deflated.compressed }
    : { method: METHOD_STORED, crc32: deflated.crc32, uncompressedSize: uncompressed.length, data: uncompressed };
}

/** State shared by an archive and every archive nested in it: one file, one sequence of calls. */
class WriterContext {
  readonly sink: FileSink;
  readonly dosDateTime: DosDateTime;
  state: 'open' | 'committing' | 'committed' | 'aborted' | 'failed' = 'open';
  /** An operation is in flight: calls must be awaited one after another. */
  busy = false;
  /** Set by the root writer: removes the temporary file after an I/O error. */
  onFailure: (() => Promise<void>) | undefined;
  /** The archive's final path, shown in I/O errors. */
  readonly targetPath: string;

  constructor(sink: FileSink, dosDateTime: DosDateTime, targetPath: string = '') {
    this.sink = sink;
    this.dosDateTime = dosDateTime;
    this.targetPath = targetPath;
  }

  /**
   * Runs one call of the public API. Mistakes of the caller (bad name, wrong order) leave the
   * writer usable; any other failure (I/O) aborts the archive, since the file is in an unknown
   * state.
   */
  async run<T>(operation: string, body: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') {
      throw new PyzError('INTERNAL', `zip writer: ${operation}() called after the archive was ${this.state}`, { value: operation });
    }
    if (this.busy) {
      throw new PyzError('INTERNAL', `zip writer: ${operation}() called while another call is still running; await each call`, { value: operation });
    }
    this.busy = true;
    try {
      return await body();
    } catch (error) {
      if (error instanceof PyzError) throw error;
      this.state = 'failed';
      await this.onFailure?.();
      const code = (error as NodeJS.ErrnoException).code;
      throw new PyzError('WRITE_FAILED', `writing the archive "${this.targetPath}" failed during ${operation}(): ${(error as Error).message}; the previous file at that path is unchanged`, {
        value: this.targetPath,
        fix: code === 'ENOSPC' || code === 'EDQUOT' ? `free disk space on the file system of ${this.targetPath}` : 'check free disk space and permissions of the output directory',
        cause: error,
      });
    } finally {
      this.busy = false;
    }
  }
}

/**
 * What the central directory needs of a completed entry, in one fixed shape, holding the
 * caller's name string (validated, and encoded to UTF-8 again when the directory is written)
 * rather than its UTF-8 bytes. Spreading the header fields into a new object gave every record
 * its own hidden class, and a Buffer per name costs ~200 bytes more: together 35 MB for 70,000
 * entries.
 */
function centralRecord(name: string, fields: EntryHeaderFields, externalAttributes: number, localHeaderOffset: number): CentralDirectoryEntry {
  return {
    name,
    utf8: fields.utf8,
    method: fields.method,
    crc32: fields.crc32,
    compressedSize: fields.compressedSize,
    uncompressedSize: fields.uncompressedSize,
    externalAttributes,
    localHeaderOffset,
  };
}

/** A started entry (streaming or nested) whose local header still needs its final values. */
interface PendingEntry {
  readonly name: string;
  readonly encodedName: Uint8Array;
  readonly utf8: boolean;
  readonly method: CompressionMethod;
  readonly externalAttributes: number;
  /** Absolute file position of the local header. */
  readonly headerPosition: number;
  readonly headerLength: number;
  readonly zip64: boolean;
}

function checkMode(mode: number, what: string): void {
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) {
    throw new PyzError('INVALID_OPTION', `${what} must be Unix permission bits between 0 and 0o7777, got ${String(mode)}`, {
      value: mode,
      fix: 'pass a mode such as 0o644 or 0o755',
    });
  }
}

function checkSize(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new PyzError('INTERNAL', `zip writer: ${what} must be a non-negative integer, got ${String(value)}`, { value });
  }
}

function checkMethod(method: number): void {
  if (method !== METHOD_STORED && method !== METHOD_DEFLATED) {
    throw new PyzError('INTERNAL', `zip writer: compression method must be 0 (stored) or 8 (deflated), got ${String(method)}`, { value: method });
  }
}

/**
 * The entries, central directory and end records of one zip, written at `baseOffset` of the
 * file. The root archive and each nested archive have one. When `trackCrc` is set (nested
 * archives) it also computes the CRC-32 of its own final bytes, for the enclosing entry.
 */
class ArchiveBody {
  readonly #context: WriterContext;
  readonly #baseOffset: number;
  readonly #trackCrc: boolean;
  readonly #records: CentralDirectoryEntry[] = [];
  #lastName: Uint8Array | undefined;
  /** The open streaming entry or nested archive; nothing else may be written until it ends. */
  #openChild: object | undefined;
  /** CRC-32 of every completed byte of this zip so far (only with trackCrc). */
  #crc = 0;
  #finished = false;

  constructor(context: WriterContext, baseOffset: number, trackCrc: boolean) {
    this.#context = context;
    this.#baseOffset = baseOffset;
    this.#trackCrc = trackCrc;
  }

  get entryCount(): number {
    return this.#records.length;
  }

  isOpenChild(child: object): boolean {
    return this.#openChild === child;
  }

  #checkWritable(operation: string): void {
    if (this.#finished) throw new PyzError('INTERNAL', `zip writer: ${operation}() called after this archive was closed`, { value: operation });
    if (this.#openChild !== undefined) {
      throw new PyzError('INTERNAL', `zip writer: ${operation}() called while a streaming entry or nested archive is still open; end() or close() it first`, {
        value: operation,
      });
    }
  }

  /** Validates and encodes a name that must come after every name added so far. */
  #checkName(name: string): Uint8Array {
    const encoded = encodeEntryName(name);
    if (this.#lastName !== undefined) {
      const order = compareEncodedNames(this.#lastName, encoded);
      if (order >= 0) {
        const previous = new TextDecoder().decode(this.#lastName);
        throw new PyzError(
          'INTERNAL',
          order === 0
            ? `zip writer: duplicate entry name ${JSON.stringify(name)}`
            : `zip writer: entry ${JSON.stringify(name)} added after ${JSON.stringify(previous)}; entries must be added in byte order of their UTF-8 names`,
          { value: name, fix: 'sort the file list by the UTF-8 bytes of each path before writing' },
        );
      }
    }
    return encoded;
  }

  async addEntry(entry: AddEntryOptions): Promise<void> {
    this.#checkWritable('addEntry');
    checkMode(entry.mode, `mode of ${JSON.stringify(entry.name)}`);
    checkMethod(entry.method);
    checkSize(entry.uncompressedSize, 'uncompressedSize');
    if (entry.method === METHOD_STORED && entry.uncompressedSize !== entry.data.length) {
      throw new PyzError('INTERNAL', `zip writer: stored entry ${JSON.stringify(entry.name)} has ${entry.data.length} bytes but uncompressedSize ${entry.uncompressedSize}`, {
        value: entry.name,
      });
    }
    const encodedName = this.#checkName(entry.name);
    const sink = this.#context.sink;
    const localHeaderOffset = sink.position - this.#baseOffset;
    const fields = {
      encodedName,
      utf8: needsUtf8Flag(entry.name),
      method: entry.method,
      crc32: entry.crc32 >>> 0,
      compressedSize: entry.data.length,
      uncompressedSize: entry.uncompressedSize,
      dosDateTime: this.#context.dosDateTime,
    };
    const header = encodeLocalFileHeader(fields, fields.compressedSize >= ZIP64_LIMIT || fields.uncompressedSize >= ZIP64_LIMIT);
    await sink.write(header);
    await sink.write(entry.data);
    if (this.#trackCrc) this.#crc = updateCrc32(entry.data, updateCrc32(header, this.#crc));
    this.#records.push(centralRecord(entry.name, fields, externalAttributesFromMode(entry.mode), localHeaderOffset));
    this.#lastName = encodedName;
  }

  /** Writes a provisional local header (CRC and sizes 0) for an entry whose data follows. */
  async #startPending(options: { name: string; mode: number; method: CompressionMethod; maybeLarge?: boolean }): Promise<PendingEntry> {
    checkMode(options.mode, `mode of ${JSON.stringify(options.name)}`);
    checkMethod(options.method);
    const encodedName = this.#checkName(options.name);
    const utf8 = needsUtf8Flag(options.name);
    const zip64 = options.maybeLarge === true;
    const header = encodeLocalFileHeader(
      { encodedName, utf8, method: options.method, crc32: 0, compressedSize: 0, uncompressedSize: 0, dosDateTime: this.#context.dosDateTime },
      zip64,
    );
    const headerPosition = this.#context.sink.position;
    await this.#context.sink.write(header);
    return { name: options.name, encodedName, utf8, method: options.method, externalAttributes: externalAttributesFromMode(options.mode), headerPosition, headerLength: header.length, zip64 };
  }

  /**
   * Patches the final values into a pending entry's local header and records it.
   * `dataCrc` is the CRC-32 of the bytes as stored (needed only with trackCrc).
   */
  async #completePending(
    pending: PendingEntry,
    values: { crc32: number; compressedSize: number; uncompressedSize: number; dataCrc: number },
  ): Promise<void> {
    const fields = {
      encodedName: pending.encodedName,
      utf8: pending.utf8,
      method: pending.method,
      crc32: values.crc32 >>> 0,
      compressedSize: values.compressedSize,
      uncompressedSize: values.uncompressedSize,
      dosDateTime: this.#context.dosDateTime,
    };
    if (!pending.zip64 && (values.compressedSize >= ZIP64_LIMIT || values.uncompressedSize >= ZIP64_LIMIT)) {
      throw new PyzError('FILE_TOO_LARGE', `entry ${JSON.stringify(new TextDecoder().decode(pending.encodedName))} reached ${Math.max(values.compressedSize, values.uncompressedSize)} bytes, which needs ZIP64, but it was started without maybeLarge`, {
        value: values.uncompressedSize,
        fix: 'discard() the entry and start it again with maybeLarge: true',
      });
    }
    const header = encodeLocalFileHeader(fields, pending.zip64);
    await this.#context.sink.patch(pending.headerPosition, header);
    if (this.#trackCrc) this.#crc = crc32Combine(updateCrc32(header, this.#crc), values.dataCrc, values.compressedSize);
    this.#records.push(centralRecord(pending.name, fields, pending.externalAttributes, pending.headerPosition - this.#baseOffset));
    this.#lastName = pending.encodedName;
    this.#openChild = undefined;
  }

  async #discardPending(pending: PendingEntry): Promise<void> {
    await this.#context.sink.rewind(pending.headerPosition);
    this.#openChild = undefined;
  }

  async startEntry(options: StartEntryOptions): Promise<ZipEntryWriter> {
    this.#checkWritable('startEntry');
    const pending = await this.#startPending(options);
    const context = this.#context;
    const trackCrc = this.#trackCrc;
    let dataLength = 0;
    let dataCrc = 0;
    const entry: ZipEntryWriter = {
      name: options.name,
      write: (chunk) =>
        context.run('write', async () => {
          this.#checkChild(entry, 'write');
          await context.sink.write(chunk);
          dataLength += chunk.length;
          if (trackCrc) dataCrc = updateCrc32(chunk, dataCrc);
        }),
      end: (result) =>
        context.run('end', async () => {
          this.#checkChild(entry, 'end');
          checkSize(result.uncompressedSize, 'uncompressedSize');
          if (options.method === METHOD_STORED && result.uncompressedSize !== dataLength) {
            throw new PyzError('INTERNAL', `zip writer: stored entry ${JSON.stringify(options.name)} got ${dataLength} bytes but end() says uncompressedSize ${result.uncompressedSize}`, {
              value: options.name,
            });
          }
          await this.#completePending(pending, { crc32: result.crc32, compressedSize: dataLength, uncompressedSize: result.uncompressedSize, dataCrc });
        }),
      discard: () =>
        context.run('discard', async () => {
          this.#checkChild(entry, 'discard');
          await this.#discardPending(pending);
        }),
    };
    this.#openChild = entry;
    return entry;
  }

  #checkChild(child: object, operation: string): void {
    if (this.#openChild !== child) {
      throw new PyzError('INTERNAL', `zip writer: ${operation}() called on an entry that has already ended or been discarded`, { value: operation });
    }
  }

  async startNestedArchive(options: StartNestedArchiveOptions): Promise<NestedZipWriter> {
    this.#checkWritable('startNestedArchive');
    // The inner zip is stored (method 0): the bootstrap reads it in place as a byte range.
    const pending = await this.#startPending({ ...options, method: METHOD_STORED });
    const inner = new ArchiveBody(this.#context, this.#context.sink.position, true);
    const nested = new NestedZipWriter(this.#context, inner, {
      close: async () => {
        this.#checkChild(nested, 'close');
        const result = await inner.finish();
        await this.#completePending(pending, { crc32: result.crc32, compressedSize: result.size, uncompressedSize: result.size, dataCrc: result.crc32 });
        return result;
      },
      discard: async () => {
        this.#checkChild(nested, 'discard');
        inner.#finished = true;
        await this.#discardPending(pending);
      },
    });
    this.#openChild = nested;
    return nested;
  }

  /** Writes the central directory and end records; returns this zip's size and CRC. */
  async finish(): Promise<NestedArchiveResult> {
    this.#checkWritable('close');
    const sink = this.#context.sink;
    const centralDirectoryOffset = sink.position - this.#baseOffset;
    const directory = encodeCentralDirectory(this.#records, this.#context.dosDateTime);
    await sink.write(directory);
    if (this.#trackCrc) this.#crc = updateCrc32(directory, this.#crc);
    const endOffset = sink.position - this.#baseOffset;
    const end = encodeEndOfArchive({
      entryCount: this.#records.length,
      centralDirectorySize: endOffset - centralDirectoryOffset,
      centralDirectoryOffset,
      zip64EndOfCentralDirectoryOffset: endOffset,
    });
    await sink.write(end);
    if (this.#trackCrc) this.#crc = updateCrc32(end, this.#crc);
    this.#finished = true;
    return { size: sink.position - this.#baseOffset, crc32: this.#crc >>> 0, entryCount: this.#records.length };
  }
}

/**
 * The entry-adding API shared by the archive and the archives nested in it: every call goes
 * through the context's one-call-at-a-time guard, then to the zip body being written.
 */
abstract class EntrySink implements ZipEntrySink {
  protected readonly context: WriterContext;
  protected readonly body: ArchiveBody;

  protected constructor(context: WriterContext, body: ArchiveBody) {
    this.context = context;
    this.body = body;
  }

  get entryCount(): number {
    return this.body.entryCount;
  }

  /** Adds an entry whose bytes, CRC and sizes are already known. */
  addEntry(entry: AddEntryOptions): Promise<void> {
    return this.context.run('addEntry', () => this.body.addEntry(entry));
  }

  /** Starts an entry whose data is written in chunks; see `ZipEntryWriter`. */
  startEntry(options: StartEntryOptions): Promise<ZipEntryWriter> {
    return this.context.run('startEntry', () => this.body.startEntry(options));
  }

  /** Starts a stored entry that holds a complete zip of its own; see `NestedZipWriter`. */
  startNestedArchive(options: StartNestedArchiveOptions): Promise<NestedZipWriter> {
    return this.context.run('startNestedArchive', () => this.body.startNestedArchive(options));
  }
}

/**
 * A zip being written inside an entry of another zip (the payload `_pyz_site_packages.zip`, see
 * docs/ARCHITECTURE.md). Its offsets count from its own first byte, so it is a valid zip on its
 * own; `close()` writes its central directory and completes the outer entry as stored, with the
 * CRC-32 of all inner bytes.
 */
export class NestedZipWriter extends EntrySink {
  readonly #outer: { close(): Promise<NestedArchiveResult>; discard(): Promise<void> };

  /** @internal created by `startNestedArchive` */
  constructor(context: WriterContext, body: ArchiveBody, outer: { close(): Promise<NestedArchiveResult>; discard(): Promise<void> }) {
    super(context, body);
    this.#outer = outer;
  }

  /** Finishes the inner zip and the outer entry holding it. */
  close(): Promise<NestedArchiveResult> {
    return this.context.run('close', () => this.#outer.close());
  }

  /** Rewinds the file to the outer entry's local header, as if the nested archive was never started. */
  discard(): Promise<void> {
    return this.context.run('discard', () => this.#outer.discard());
  }
}

/** `.<name>.<pid>.<random>.tmp`: hidden, beside the target, owned by one process. */
const TEMPORARY_NAME = /^\.(.+)\.(\d+)\.[0-9a-f]+\.tmp$/;

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temporary files an earlier writer of the same target left behind when it was killed
 * (SIGKILL gives no chance to clean up). Only files named for a process that no longer exists are
 * touched, so a build running concurrently keeps its own.
 */
async function removeStaleTemporaryFiles(directory: string, baseName: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch {
    return;
  }
  for (const name of names) {
    const match = TEMPORARY_NAME.exec(name);
    if (match === null || match[1] !== baseName) continue;
    const pid = Number(match[2]);
    if (pid === process.pid || processIsAlive(pid)) continue;
    await unlink(path.join(directory, name)).catch(() => undefined);
  }
}

function outputError(error: NodeJS.ErrnoException, targetPath: string): PyzError {
  if (error.code === 'EISDIR') {
    return new PyzError('OUTPUT_IS_DIRECTORY', `output path ${JSON.stringify(targetPath)} is a directory`, {
      value: targetPath,
      fix: 'pass a file path such as dist/app.pyz',
      cause: error,
    });
  }
  return new PyzError('OUTPUT_NOT_WRITABLE', `cannot write the archive next to ${JSON.stringify(targetPath)}: ${error.message}`, {
    value: targetPath,
    fix: error.code === 'ENOENT' ? 'create the output directory first' : 'check the permissions of the output directory',
    cause: error,
  });
}

/**
 * Writes one zip archive to `targetPath` atomically: everything goes to a temporary file in the
 * same directory (same file system, so the rename is atomic), which `commit()` fsyncs and
 * renames over the target. Until then, and after `abort()` or any failure, the target is
 * untouched and the temporary file is removed.
 */
export class ZipWriter extends EntrySink {
  readonly #handle: FileHandle;
  readonly #targetPath: string;
  readonly #temporaryPath: string;
  readonly #mode: number;

  private constructor(handle: FileHandle, context: WriterContext, targetPath: string, temporaryPath: string, mode: number) {
    super(context, new ArchiveBody(context, 0, false));
    this.#handle = handle;
    this.#targetPath = targetPath;
    this.#temporaryPath = temporaryPath;
    this.#mode = mode;
    context.onFailure = () => this.#removeTemporaryFile();
  }

  /**
   * Creates the temporary file beside `targetPath` and writes `prefix`. Also removes temporary
   * files of earlier writers of the same target that were killed.
   */
  static async open(targetPath: string, options: ZipWriterOptions): Promise<ZipWriter> {
    const mode = options.mode ?? DEFAULT_ARCHIVE_MODE;
    checkMode(mode, 'archive mode');
    const dosDateTime = dosDateTimeFromEpochSeconds(options.dosTimeEpochSeconds);
    const absoluteTarget = path.resolve(targetPath);
    const directory = path.dirname(absoluteTarget);
    const baseName = path.basename(absoluteTarget);
    const existing = await stat(absoluteTarget).catch(() => undefined);
    if (existing?.isDirectory()) throw outputError(Object.assign(new Error('is a directory'), { code: 'EISDIR' }), targetPath);
    await removeStaleTemporaryFiles(directory, baseName);
    const temporaryPath = path.join(directory, `.${baseName}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
    let handle: FileHandle;
    try {
      // O_EXCL: never reuse (or follow a symlink planted at) an existing path.
      handle = await open(temporaryPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o600);
    } catch (error) {
      throw outputError(error as NodeJS.ErrnoException, targetPath);
    }
    const context = new WriterContext(new FileSink(handle), dosDateTime, absoluteTarget);
    const writer = new ZipWriter(handle, context, absoluteTarget, temporaryPath, mode);
    if (options.prefix !== undefined && options.prefix.length > 0) {
      const prefix = options.prefix;
      await context.run('open', () => context.sink.write(prefix));
    }
    return writer;
  }

  /** Path of the temporary file being written (removed or renamed by commit/abort). */
  get temporaryPath(): string {
    return this.#temporaryPath;
  }

  /**
   * Writes the central directory, flushes and fsyncs the temporary file, applies the mode and
   * renames it over the target.
   */
  async commit(): Promise<CommittedArchive> {
    const size = await this.context.run('commit', async () => {
      await this.body.finish();
      const size = await this.context.sink.finish();
      await this.#handle.chmod(this.#mode);
      this.context.state = 'committing';
      await this.#handle.close();
      try {
        await rename(this.#temporaryPath, this.#targetPath);
      } catch (error) {
        this.context.state = 'failed';
        await this.#removeTemporaryFile();
        throw outputError(error as NodeJS.ErrnoException, this.#targetPath);
      }
      // Persist the rename itself (best effort: not every platform can fsync a directory).
      const directory = await open(path.dirname(this.#targetPath), 'r').catch(() => undefined);
      await directory?.sync().catch(() => undefined);
      await directory?.close();
      return size;
    });
    this.context.state = 'committed';
    return { path: this.#targetPath, size };
  }

  /** Discards everything written: removes the temporary file; the target is untouched. Idempotent. */
  async abort(): Promise<void> {
    if (this.context.state === 'committed' || this.context.state === 'aborted') return;
    this.context.state = 'aborted';
    await this.#removeTemporaryFile();
  }

  async #removeTemporaryFile(): Promise<void> {
    await this.#handle.close().catch(() => undefined);
    await unlink(this.#temporaryPath).catch(() => undefined);
  }
}
