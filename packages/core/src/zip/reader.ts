/**
 * A reader for zip archives as pyz writes them (and for the usual archives other tools write:
 * a comment, directory entries, CP437 names), used by `pyz info`, incremental rebuilds and the
 * tests.
 *
 * The input is untrusted: every inconsistency becomes a PyzError with code ARCHIVE_INVALID (the
 * structure is wrong) or ARCHIVE_UNSAFE_MEMBER (a name that could escape an extraction
 * directory, or a duplicate name), naming the offending value. Every length read from the file
 * is checked against the file's size before anything is allocated, so a crafted archive cannot
 * cause a RangeError, a hang or a huge allocation.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { crc32 as zlibCrc32, inflateRawSync } from 'node:zlib';
import { PyzError } from '../errors.js';
import {
  CENTRAL_DIRECTORY_HEADER_SIGNATURE,
  CENTRAL_DIRECTORY_HEADER_SIZE,
  END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  END_OF_CENTRAL_DIRECTORY_SIZE,
  FLAG_ENCRYPTED,
  FLAG_UTF8,
  LOCAL_FILE_HEADER_SIGNATURE,
  LOCAL_FILE_HEADER_SIZE,
  MAX_COMMENT_LENGTH,
  METHOD_DEFLATED,
  METHOD_STORED,
  UNIX_DIRECTORY,
  UNIX_FILE_TYPE_MASK,
  ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE,
  ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIZE,
  ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE,
  ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE,
  ZIP64_EXTRA_FIELD_ID,
  ZIP64_LIMIT,
  epochSecondsFromDosDateTime,
  readUint64,
  unsafeNameReason,
} from './format.js';

/**
 * `read()` and `readRaw()` return one buffer; entries larger than this must be read with
 * `readRawChunks()`. 1 GiB: far above any file an app ships, below Node's Buffer limit.
 */
export const MAX_IN_MEMORY_ENTRY_SIZE: number = 1 << 30;
/** A central directory larger than this is refused (it would describe ~10 million entries). */
export const MAX_CENTRAL_DIRECTORY_SIZE: number = 1 << 30;
/** Chunk size of `readRawChunks`. */
export const READ_CHUNK_SIZE: number = 1 << 20;

/** One member, as its central directory record describes it. */
export interface ZipArchiveEntry {
  /** Position in the central directory. */
  readonly index: number;
  /** Decoded name: UTF-8 when flag bit 11 is set, else CP437 (APPNOTE appendix D). */
  readonly name: string;
  /** The name bytes as stored. */
  readonly rawName: Uint8Array;
  /** Compression method (0 stored, 8 deflated; others are listed but cannot be read). */
  readonly method: number;
  /** General purpose bit flag (APPNOTE 4.4.4). */
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Unix permission bits from the external attributes (0 when the archive has none). */
  readonly mode: number;
  /** External file attributes as stored (APPNOTE 4.4.15). */
  readonly externalAttributes: number;
  /** Upper byte of "version made by": 3 = Unix, 0 = MS-DOS (APPNOTE 4.4.2.2). */
  readonly madeByHost: number;
  /** Name ends with "/" or the Unix mode says directory. */
  readonly isDirectory: boolean;
  /** Modification time as UTC epoch seconds, decoded from the DOS fields. */
  readonly lastModifiedEpochSeconds: number;
  /** Offset of the local header, relative to the start of this archive. */
  readonly localHeaderOffset: number;
}

function invalid(message: string, value: unknown): PyzError {
  return new PyzError('ARCHIVE_INVALID', message, { value, fix: 'the archive is damaged or was not written by pyz; rebuild it' });
}

/** CP437, the code page APPNOTE appendix D prescribes for names without flag bit 11 (bytes 0x80–0xFF). */
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

function decodeCp437(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) text += byte < 0x80 ? String.fromCharCode(byte) : CP437_HIGH[byte - 0x80];
  return text;
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Where the central directory is, from the end records. */
interface EndRecords {
  readonly entryCount: number;
  readonly centralDirectoryOffset: number;
  readonly centralDirectorySize: number;
  /** Where the bytes after the central directory start (ZIP64 end record or classic end record). */
  readonly centralDirectoryEnd: number;
}

/**
 * An open zip archive: the whole file, or (via `openNested`) a stored member of another archive
 * read in place. Offsets are relative to the archive's first byte; a prefix before the zip (a
 * `#!` line) is fine as long as offsets count from the start of the file, as pyz writes them.
 */
export class ZipArchive {
  /** Every member, in central directory order. */
  readonly entries: readonly ZipArchiveEntry[];
  /** Archive comment, decoded as CP437 (APPNOTE 4.3.16). */
  readonly comment: string;
  /** Size of this archive in bytes (for a nested archive: the member's size). */
  readonly size: number;
  readonly #handle: FileHandle;
  /** File position of this archive's byte 0. */
  readonly #start: number;
  readonly #ownsHandle: boolean;
  readonly #centralDirectoryOffset: number;
  readonly #byName: Map<string, ZipArchiveEntry>;
  readonly #dataOffsets = new Map<number, number>();
  #closed = false;

  private constructor(
    handle: FileHandle,
    start: number,
    size: number,
    ownsHandle: boolean,
    parsed: { entries: ZipArchiveEntry[]; byName: Map<string, ZipArchiveEntry>; comment: string; centralDirectoryOffset: number },
  ) {
    this.#handle = handle;
    this.#start = start;
    this.size = size;
    this.#ownsHandle = ownsHandle;
    this.entries = parsed.entries;
    this.#byName = parsed.byName;
    this.comment = parsed.comment;
    this.#centralDirectoryOffset = parsed.centralDirectoryOffset;
  }

  /** Opens the archive at `path` and reads its central directory. */
  static async open(path: string): Promise<ZipArchive> {
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw new PyzError('FILE_UNREADABLE', `cannot open archive ${JSON.stringify(path)}: ${(error as Error).message}`, {
        value: path,
        fix: 'check that the file exists and is readable',
        cause: error,
      });
    }
    try {
      const { size } = await handle.stat();
      const parsed = await ZipArchive.#parse(handle, 0, size);
      return new ZipArchive(handle, 0, size, true, parsed);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** The member called `name`, if any. */
  getEntry(name: string): ZipArchiveEntry | undefined {
    return this.#byName.get(name);
  }

  /**
   * Opens a stored member that is itself a zip (the payload, see docs/ARCHITECTURE.md) without
   * copying it. Shares this archive's file handle: close the nested archive before this one.
   */
  async openNested(entry: ZipArchiveEntry): Promise<ZipArchive> {
    this.#checkEntry(entry);
    if (entry.method !== METHOD_STORED) {
      throw invalid(`member ${JSON.stringify(entry.name)} is compressed (method ${entry.method}); a nested archive must be stored to be read in place`, entry.name);
    }
    const dataOffset = await this.#dataOffsetOf(entry);
    const parsed = await ZipArchive.#parse(this.#handle, this.#start + dataOffset, entry.compressedSize);
    return new ZipArchive(this.#handle, this.#start + dataOffset, entry.compressedSize, false, parsed);
  }

  /** The member's bytes as stored (compressed for method 8), without any check of the CRC. */
  async readRaw(entry: ZipArchiveEntry): Promise<Uint8Array> {
    this.#checkEntry(entry);
    if (entry.compressedSize > MAX_IN_MEMORY_ENTRY_SIZE) {
      throw invalid(`member ${JSON.stringify(entry.name)} has ${entry.compressedSize} bytes, too many to read into memory at once; use readRawChunks()`, entry.compressedSize);
    }
    const dataOffset = await this.#dataOffsetOf(entry);
    return this.#readExactly(dataOffset, entry.compressedSize, `data of ${JSON.stringify(entry.name)}`);
  }

  /** The member's bytes as stored, in chunks of at most `chunkSize` bytes (bounded memory). */
  async *readRawChunks(entry: ZipArchiveEntry, chunkSize: number = READ_CHUNK_SIZE): AsyncGenerator<Uint8Array> {
    this.#checkEntry(entry);
    const dataOffset = await this.#dataOffsetOf(entry);
    for (let done = 0; done < entry.compressedSize; ) {
      const length = Math.min(chunkSize, entry.compressedSize - done);
      yield await this.#readExactly(dataOffset + done, length, `data of ${JSON.stringify(entry.name)}`);
      done += length;
    }
  }

  /** The member's uncompressed bytes, with size and CRC-32 verified. */
  async read(entry: ZipArchiveEntry): Promise<Uint8Array> {
    this.#checkEntry(entry);
    if (entry.flags & FLAG_ENCRYPTED) throw invalid(`member ${JSON.stringify(entry.name)} is encrypted, which pyz does not support`, entry.name);
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATED) {
      throw invalid(`member ${JSON.stringify(entry.name)} uses compression method ${entry.method}; only 0 (stored) and 8 (deflate) are supported`, entry.method);
    }
    if (entry.uncompressedSize > MAX_IN_MEMORY_ENTRY_SIZE) {
      throw invalid(`member ${JSON.stringify(entry.name)} has ${entry.uncompressedSize} bytes, too many to read into memory at once; use readRawChunks()`, entry.uncompressedSize);
    }
    const raw = await this.readRaw(entry);
    let data: Uint8Array;
    if (entry.method === METHOD_STORED) {
      if (entry.compressedSize !== entry.uncompressedSize) {
        throw invalid(`stored member ${JSON.stringify(entry.name)} has compressed size ${entry.compressedSize} but uncompressed size ${entry.uncompressedSize}`, entry.name);
      }
      data = raw;
    } else {
      try {
        // maxOutputLength stops a deflate bomb at the size the central directory announced.
        data = inflateRawSync(raw, { maxOutputLength: Math.max(entry.uncompressedSize, 1) });
      } catch (error) {
        throw invalid(`member ${JSON.stringify(entry.name)} does not inflate to its ${entry.uncompressedSize} announced bytes: ${(error as Error).message}`, entry.name);
      }
      if (data.length !== entry.uncompressedSize) {
        throw invalid(`member ${JSON.stringify(entry.name)} inflates to ${data.length} bytes, not the ${entry.uncompressedSize} announced`, entry.name);
      }
    }
    const actualCrc = zlibCrc32(data);
    if (actualCrc !== entry.crc32) {
      throw invalid(`member ${JSON.stringify(entry.name)} has CRC-32 ${hex(actualCrc)}, not the ${hex(entry.crc32)} announced`, entry.name);
    }
    return data;
  }

  /** Closes the file (only for archives opened with `open`; nested ones share their parent's). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsHandle) await this.#handle.close();
  }

  #checkEntry(entry: ZipArchiveEntry): void {
    if (this.#closed) throw new PyzError('INTERNAL', 'zip reader: archive used after close()', { value: entry.name });
    if (this.entries[entry.index] !== entry) {
      throw new PyzError('INTERNAL', `zip reader: entry ${JSON.stringify(entry.name)} does not belong to this archive`, { value: entry.name });
    }
  }

  /** Offset of the member's data: after its local header, whose name and extra lengths may differ from the central ones. */
  async #dataOffsetOf(entry: ZipArchiveEntry): Promise<number> {
    const cached = this.#dataOffsets.get(entry.index);
    if (cached !== undefined) return cached;
    const header = await this.#readExactly(entry.localHeaderOffset, LOCAL_FILE_HEADER_SIZE + entry.rawName.length, `local header of ${JSON.stringify(entry.name)}`);
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    if (view.getUint32(0, true) !== LOCAL_FILE_HEADER_SIGNATURE) {
      throw invalid(`no local header signature at offset ${entry.localHeaderOffset} for member ${JSON.stringify(entry.name)}`, entry.localHeaderOffset);
    }
    const nameLength = view.getUint16(26, true);
    const extraLength = view.getUint16(28, true);
    const localName = header.subarray(LOCAL_FILE_HEADER_SIZE);
    if (nameLength !== entry.rawName.length || !localName.every((byte, index) => byte === entry.rawName[index])) {
      throw invalid(`local header at offset ${entry.localHeaderOffset} names another file than the central directory (${JSON.stringify(entry.name)})`, entry.name);
    }
    const dataOffset = entry.localHeaderOffset + LOCAL_FILE_HEADER_SIZE + nameLength + extraLength;
    if (dataOffset + entry.compressedSize > this.#centralDirectoryOffset) {
      throw invalid(`data of member ${JSON.stringify(entry.name)} (offset ${dataOffset}, ${entry.compressedSize} bytes) runs into the central directory at ${this.#centralDirectoryOffset}`, entry.name);
    }
    this.#dataOffsets.set(entry.index, dataOffset);
    return dataOffset;
  }

  async #readExactly(offset: number, length: number, what: string): Promise<Uint8Array> {
    return readExactly(this.#handle, this.#start, this.size, offset, length, what);
  }

  /** Reads and checks the end records and the central directory of the zip at [start, start + size). */
  static async #parse(
    handle: FileHandle,
    start: number,
    size: number,
  ): Promise<{ entries: ZipArchiveEntry[]; byName: Map<string, ZipArchiveEntry>; comment: string; centralDirectoryOffset: number }> {
    const read = (offset: number, length: number, what: string): Promise<Uint8Array> => readExactly(handle, start, size, offset, length, what);
    const { end, comment } = await findEndRecords(size, read);
    if (end.centralDirectorySize > MAX_CENTRAL_DIRECTORY_SIZE) {
      throw invalid(`central directory of ${end.centralDirectorySize} bytes is larger than the ${MAX_CENTRAL_DIRECTORY_SIZE} bytes pyz accepts`, end.centralDirectorySize);
    }
    const directory = await read(end.centralDirectoryOffset, end.centralDirectorySize, 'central directory');
    const view = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
    const entries: ZipArchiveEntry[] = [];
    const byName = new Map<string, ZipArchiveEntry>();
    let position = 0;
    for (let index = 0; index < end.entryCount; index++) {
      const entry = parseCentralDirectoryHeader(view, directory, position, index, end.centralDirectoryOffset);
      position = entry.next;
      const record = entry.record;
      const reason = unsafeNameReason(record.name, { allowDirectory: true });
      if (reason !== undefined) {
        throw new PyzError('ARCHIVE_UNSAFE_MEMBER', `archive member ${JSON.stringify(record.name)} is refused: ${reason}`, {
          value: record.name,
          fix: 'do not extract this archive; rebuild it from trusted sources',
        });
      }
      if (byName.has(record.name)) {
        throw new PyzError('ARCHIVE_UNSAFE_MEMBER', `archive has two members named ${JSON.stringify(record.name)}`, {
          value: record.name,
          fix: 'do not extract this archive; rebuild it from trusted sources',
        });
      }
      // Cheapest bound, before reading any local header: header and data fit before the directory.
      if (record.localHeaderOffset + LOCAL_FILE_HEADER_SIZE + record.rawName.length + record.compressedSize > end.centralDirectoryOffset) {
        throw invalid(`member ${JSON.stringify(record.name)} at offset ${record.localHeaderOffset} with ${record.compressedSize} bytes does not fit before the central directory at ${end.centralDirectoryOffset}`, record.localHeaderOffset);
      }
      entries.push(record);
      byName.set(record.name, record);
    }
    if (position !== end.centralDirectorySize) {
      throw invalid(`central directory is ${end.centralDirectorySize} bytes but its ${end.entryCount} entries use ${position}`, end.centralDirectorySize);
    }
    return { entries, byName, comment, centralDirectoryOffset: end.centralDirectoryOffset };
  }
}

function hex(value: number): string {
  return `0x${value.toString(16).padStart(8, '0')}`;
}

/** Reads `length` bytes at `offset` of the range [start, start + size), or fails with ARCHIVE_INVALID. */
async function readExactly(handle: FileHandle, start: number, size: number, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw invalid(`${what} (offset ${offset}, ${length} bytes) lies outside the archive's ${size} bytes`, offset);
  }
  const bytes = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(bytes, done, length - done, start + offset + done);
    if (bytesRead === 0) throw invalid(`archive is truncated: ${what} ends at ${offset + length} but the file ends earlier`, offset + done);
    done += bytesRead;
  }
  return bytes;
}

type RangeReader = (offset: number, length: number, what: string) => Promise<Uint8Array>;

/**
 * Finds the end of central directory record (APPNOTE 4.3.16) — the last one whose comment ends
 * exactly at the end of the archive — and the ZIP64 end record when the locator is present
 * (APPNOTE 4.3.14, 4.3.15). Checks that the central directory ends where the end records begin.
 */
async function findEndRecords(size: number, read: RangeReader): Promise<{ end: EndRecords; comment: string }> {
  if (size < END_OF_CENTRAL_DIRECTORY_SIZE) throw invalid(`file of ${size} bytes is too small to be a zip archive`, size);
  const tailLength = Math.min(size, END_OF_CENTRAL_DIRECTORY_SIZE + MAX_COMMENT_LENGTH);
  const tailStart = size - tailLength;
  const tail = await read(tailStart, tailLength, 'end of central directory');
  const tailView = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let endPosition = -1;
  for (let position = tailLength - END_OF_CENTRAL_DIRECTORY_SIZE; position >= 0; position--) {
    if (tailView.getUint32(position, true) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    if (position + END_OF_CENTRAL_DIRECTORY_SIZE + tailView.getUint16(position + 20, true) === tailLength) {
      endPosition = position;
      break;
    }
  }
  if (endPosition < 0) throw invalid('no end of central directory record found: not a zip archive, or truncated', size);
  const eocd = endPosition; // within tail
  const diskNumber = tailView.getUint16(eocd + 4, true);
  const directoryDisk = tailView.getUint16(eocd + 6, true);
  const entriesOnDisk = tailView.getUint16(eocd + 8, true);
  let entryCount = tailView.getUint16(eocd + 10, true);
  let centralDirectorySize = tailView.getUint32(eocd + 12, true);
  let centralDirectoryOffset = tailView.getUint32(eocd + 16, true);
  const commentLength = tailView.getUint16(eocd + 20, true);
  const comment = decodeCp437(tail.subarray(eocd + END_OF_CENTRAL_DIRECTORY_SIZE, eocd + END_OF_CENTRAL_DIRECTORY_SIZE + commentLength));
  if (diskNumber !== 0 || directoryDisk !== 0 || entriesOnDisk !== entryCount) {
    throw invalid(`multi-disk archives are not supported (disk ${diskNumber}, central directory on disk ${directoryDisk}, ${entriesOnDisk} of ${entryCount} entries on this disk)`, diskNumber);
  }
  const endOffset = tailStart + eocd;
  let centralDirectoryEnd = endOffset;

  const locatorOffset = endOffset - ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIZE;
  const saturated = entryCount === 0xffff || centralDirectorySize === ZIP64_LIMIT || centralDirectoryOffset === ZIP64_LIMIT;
  let locator: DataView | undefined;
  if (locatorOffset >= 0) {
    const bytes = await read(locatorOffset, ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIZE, 'ZIP64 end of central directory locator');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0, true) === ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE) locator = view;
  }
  if (locator !== undefined) {
    const recordOffset = readUint64(locator, 8);
    if (locator.getUint32(4, true) !== 0 || locator.getUint32(16, true) > 1) throw invalid('multi-disk ZIP64 archives are not supported', locator.getUint32(16, true));
    if (recordOffset === undefined || recordOffset + ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE > locatorOffset) {
      throw invalid(`ZIP64 end of central directory record offset ${String(recordOffset)} is outside the archive`, recordOffset);
    }
    const record = await read(recordOffset, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE, 'ZIP64 end of central directory record');
    const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
    if (view.getUint32(0, true) !== ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE) throw invalid(`no ZIP64 end of central directory record at offset ${recordOffset}`, recordOffset);
    const recordSize = readUint64(view, 4);
    if (recordSize === undefined || recordSize < ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE - 12 || recordOffset + 12 + recordSize !== locatorOffset) {
      throw invalid(`ZIP64 end of central directory record announces ${String(recordSize)} bytes, which do not end at the locator (offset ${locatorOffset})`, recordSize);
    }
    const zip64Count = readUint64(view, 32);
    const zip64OnDisk = readUint64(view, 24);
    const zip64Size = readUint64(view, 40);
    const zip64Offset = readUint64(view, 48);
    if (zip64Count === undefined || zip64Size === undefined || zip64Offset === undefined || zip64OnDisk !== zip64Count || view.getUint32(16, true) !== 0 || view.getUint32(20, true) !== 0) {
      throw invalid('ZIP64 end of central directory record has out-of-range or multi-disk values', recordOffset);
    }
    // APPNOTE 4.4.1.4: the classic fields either agree with the ZIP64 ones or are saturated.
    if ((entryCount !== 0xffff && entryCount !== zip64Count) || (centralDirectorySize !== ZIP64_LIMIT && centralDirectorySize !== zip64Size) || (centralDirectoryOffset !== ZIP64_LIMIT && centralDirectoryOffset !== zip64Offset)) {
      throw invalid(`end of central directory (${entryCount} entries, ${centralDirectorySize} bytes at ${centralDirectoryOffset}) contradicts its ZIP64 record (${zip64Count} entries, ${zip64Size} bytes at ${zip64Offset})`, zip64Count);
    }
    entryCount = zip64Count;
    centralDirectorySize = zip64Size;
    centralDirectoryOffset = zip64Offset;
    centralDirectoryEnd = recordOffset;
  } else if (saturated && entryCount === 0xffff && centralDirectorySize !== ZIP64_LIMIT && centralDirectoryOffset !== ZIP64_LIMIT) {
    // Exactly 65,535 entries is legal without ZIP64; nothing to do.
  } else if (saturated) {
    throw invalid('end of central directory has saturated (0xFFFFFFFF) fields but no ZIP64 locator', size);
  }
  if (centralDirectoryOffset + centralDirectorySize !== centralDirectoryEnd) {
    throw invalid(
      `central directory (${centralDirectorySize} bytes at offset ${centralDirectoryOffset}) does not end where the end records start (${centralDirectoryEnd}); offsets may not count from the start of the file`,
      centralDirectoryOffset,
    );
  }
  // Each central header is at least 46 bytes: a count that cannot fit is a lie (and no loop runs on it).
  if (entryCount * CENTRAL_DIRECTORY_HEADER_SIZE > centralDirectorySize) {
    throw invalid(`end of central directory announces ${entryCount} entries, more than its ${centralDirectorySize} bytes can hold`, entryCount);
  }
  return { end: { entryCount, centralDirectoryOffset, centralDirectorySize, centralDirectoryEnd }, comment };
}

/** Parses the central directory header at `position` (APPNOTE 4.3.12, ZIP64 extra per 4.5.3). */
function parseCentralDirectoryHeader(
  view: DataView,
  directory: Uint8Array,
  position: number,
  index: number,
  centralDirectoryOffset: number,
): { record: ZipArchiveEntry; next: number } {
  const at = centralDirectoryOffset + position;
  if (position + CENTRAL_DIRECTORY_HEADER_SIZE > directory.length) throw invalid(`central directory ends inside the header of entry ${index} (offset ${at})`, at);
  if (view.getUint32(position, true) !== CENTRAL_DIRECTORY_HEADER_SIGNATURE) throw invalid(`no central directory header signature at offset ${at} (entry ${index})`, at);
  const madeBy = view.getUint16(position + 4, true);
  const flags = view.getUint16(position + 8, true);
  const method = view.getUint16(position + 10, true);
  const time = view.getUint16(position + 12, true);
  const date = view.getUint16(position + 14, true);
  const crc32 = view.getUint32(position + 16, true);
  let compressedSize = view.getUint32(position + 20, true);
  let uncompressedSize = view.getUint32(position + 24, true);
  const nameLength = view.getUint16(position + 28, true);
  const extraLength = view.getUint16(position + 30, true);
  const commentLength = view.getUint16(position + 32, true);
  const diskStart = view.getUint16(position + 34, true);
  const externalAttributes = view.getUint32(position + 38, true);
  let localHeaderOffset = view.getUint32(position + 42, true);
  const nameStart = position + CENTRAL_DIRECTORY_HEADER_SIZE;
  const extraStart = nameStart + nameLength;
  const next = extraStart + extraLength + commentLength;
  if (next > directory.length) throw invalid(`central directory header at offset ${at} (entry ${index}) runs past the end of the central directory`, at);
  const rawName = directory.slice(nameStart, extraStart);
  let name: string;
  if (flags & FLAG_UTF8) {
    try {
      name = utf8Decoder.decode(rawName);
    } catch {
      throw invalid(`entry ${index} at offset ${at} has the UTF-8 flag but its name is not valid UTF-8`, Buffer.from(rawName).toString('hex'));
    }
  } else {
    name = decodeCp437(rawName);
  }
  if (diskStart !== 0 && diskStart !== 0xffff) throw invalid(`member ${JSON.stringify(name)} starts on disk ${diskStart}; multi-disk archives are not supported`, diskStart);

  // ZIP64 extended information: only the fields saturated in the header are present, in order.
  for (let extra = extraStart; extra + 4 <= extraStart + extraLength; ) {
    const id = view.getUint16(extra, true);
    const length = view.getUint16(extra + 2, true);
    const dataStart = extra + 4;
    if (dataStart + length > extraStart + extraLength) throw invalid(`extra field 0x${id.toString(16)} of ${JSON.stringify(name)} runs past its header`, name);
    if (id === ZIP64_EXTRA_FIELD_ID) {
      let field = dataStart;
      const take = (what: string): number => {
        if (field + 8 > dataStart + length) throw invalid(`ZIP64 extra field of ${JSON.stringify(name)} is too short for its ${what}`, name);
        const value = readUint64(view, field);
        if (value === undefined) throw invalid(`ZIP64 ${what} of ${JSON.stringify(name)} is out of range`, name);
        field += 8;
        return value;
      };
      if (uncompressedSize === ZIP64_LIMIT) uncompressedSize = take('uncompressed size');
      if (compressedSize === ZIP64_LIMIT) compressedSize = take('compressed size');
      if (localHeaderOffset === ZIP64_LIMIT) localHeaderOffset = take('local header offset');
    }
    extra = dataStart + length;
  }

  const unixMode = externalAttributes >>> 16;
  const madeByHost = madeBy >> 8;
  const record: ZipArchiveEntry = {
    index,
    name,
    rawName,
    method,
    flags,
    crc32,
    compressedSize,
    uncompressedSize,
    mode: madeByHost === 3 ? unixMode & 0o7777 : 0,
    externalAttributes,
    madeByHost,
    isDirectory: name.endsWith('/') || (madeByHost === 3 && (unixMode & UNIX_FILE_TYPE_MASK) === UNIX_DIRECTORY),
    lastModifiedEpochSeconds: epochSecondsFromDosDateTime({ date, time }),
    localHeaderOffset,
  };
  return { record, next };
}
