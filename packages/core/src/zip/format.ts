/**
 * Byte-level records of the zip format, shared by the writer and the reader.
 *
 * Field names and section numbers follow PKWARE's APPNOTE.TXT (version 6.3.10). All integers
 * are little-endian (APPNOTE 4.4.1.1). Only what pyz writes is encoded here: methods 0 and 8, no
 * data descriptors, no encryption, ZIP64 only where a value does not fit.
 */
import { PyzError } from '../errors.js';

/** APPNOTE 4.3.7: local file header signature "PK\x03\x04". */
export const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
/** APPNOTE 4.3.12: central directory file header signature "PK\x01\x02". */
export const CENTRAL_DIRECTORY_HEADER_SIGNATURE = 0x02014b50;
/** APPNOTE 4.3.16: end of central directory record signature "PK\x05\x06". */
export const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
/** APPNOTE 4.3.14: ZIP64 end of central directory record signature "PK\x06\x06". */
export const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50;
/** APPNOTE 4.3.15: ZIP64 end of central directory locator signature "PK\x06\x07". */
export const ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE = 0x07064b50;

/** Fixed part of a local file header (APPNOTE 4.3.7), before the name and extra field. */
export const LOCAL_FILE_HEADER_SIZE = 30;
/** Fixed part of a central directory header (APPNOTE 4.3.12). */
export const CENTRAL_DIRECTORY_HEADER_SIZE = 46;
/** End of central directory record without its comment (APPNOTE 4.3.16). */
export const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
/** ZIP64 end of central directory record without extensible data (APPNOTE 4.3.14). */
export const ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE = 56;
/** ZIP64 end of central directory locator (APPNOTE 4.3.15). */
export const ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIZE = 20;
/** The longest comment an EOCD can announce: its length field is 16 bits (APPNOTE 4.3.16). */
export const MAX_COMMENT_LENGTH = 0xffff;

/** APPNOTE 4.5.3: header ID of the ZIP64 extended information extra field. */
export const ZIP64_EXTRA_FIELD_ID = 0x0001;
/** Extra field a ZIP64-capable local header carries: ID, size, uncompressed and compressed size. */
export const ZIP64_LOCAL_EXTRA_FIELD_SIZE: number = 4 + 16;

/** Values at or above this do not fit a 32-bit field and need ZIP64 (APPNOTE 4.4.8, 4.4.9). */
export const ZIP64_LIMIT = 0xffffffff;
/** More entries than this need a ZIP64 end record (APPNOTE 4.4.21, 4.4.22). */
export const MAX_ENTRIES_WITHOUT_ZIP64 = 0xffff;

/** Compression methods pyz writes (APPNOTE 4.4.5): stored and deflated. */
// Annotated (not inferred) literal types, so they do not widen to number inside object literals.
export const METHOD_STORED: 0 = 0;
export const METHOD_DEFLATED: 8 = 8;
export type CompressionMethod = typeof METHOD_STORED | typeof METHOD_DEFLATED;

/** APPNOTE 4.4.4 bit 11: names (and comment) are UTF-8. Set only for non-ASCII names. */
export const FLAG_UTF8 = 0x0800;
/** APPNOTE 4.4.4 bit 3: sizes and CRC follow in a data descriptor. pyz never sets it. */
export const FLAG_DATA_DESCRIPTOR = 0x0008;
/** APPNOTE 4.4.4 bit 0: encrypted. Refused by the reader. */
export const FLAG_ENCRYPTED = 0x0001;

/** APPNOTE 4.4.3.2: 2.0 is enough for deflate; 4.5 is needed once a ZIP64 field is used. */
export const VERSION_DEFAULT = 20;
export const VERSION_ZIP64 = 45;
/**
 * APPNOTE 4.4.2.2: upper byte 3 = UNIX, so readers (Python's zipfile, Info-ZIP unzip) take the
 * upper 16 bits of the external attributes as st_mode and keep the exec bits.
 */
export const MADE_BY_UNIX: number = 3 << 8;

/** S_IFREG from <sys/stat.h>: a regular file, stored with the permission bits. */
export const UNIX_REGULAR_FILE = 0o100000;
/** S_IFMT: the file-type bits of st_mode. */
export const UNIX_FILE_TYPE_MASK = 0o170000;
/** S_IFDIR, seen only in archives other tools wrote. */
export const UNIX_DIRECTORY = 0o040000;

/** 1980-01-01T00:00:00Z: the earliest instant a DOS date can hold (APPNOTE 4.4.6). */
export const DOS_EPOCH_MIN_SECONDS = 315_532_800;
/** 2107-12-31T23:59:58Z: the latest instant a DOS date can hold (year field is 7 bits). */
export const DOS_EPOCH_MAX_SECONDS = 4_354_819_198;

/** A DOS date and time pair as stored in the headers (APPNOTE 4.4.6). */
export interface DosDateTime {
  /** Bits 15–9 year since 1980, 8–5 month, 4–0 day. */
  readonly date: number;
  /** Bits 15–11 hour, 10–5 minute, 4–0 seconds / 2. */
  readonly time: number;
}

/**
 * Encodes `epochSeconds` as a DOS date/time from its UTC fields, so the bytes are the same in
 * every time zone (SPEC §4). Values outside 1980-01-01..2107-12-31 are clamped to the range;
 * odd seconds round down (DOS stores seconds / 2).
 */
export function dosDateTimeFromEpochSeconds(epochSeconds: number): DosDateTime {
  if (!Number.isFinite(epochSeconds)) {
    throw new PyzError('INVALID_OPTION', `archive timestamp must be a finite number of seconds since 1970, got ${String(epochSeconds)}`, {
      value: epochSeconds,
      fix: 'set SOURCE_DATE_EPOCH to an integer such as 315532800',
    });
  }
  const clamped = Math.min(Math.max(Math.floor(epochSeconds), DOS_EPOCH_MIN_SECONDS), DOS_EPOCH_MAX_SECONDS);
  const instant = new Date(clamped * 1000);
  const date = ((instant.getUTCFullYear() - 1980) << 9) | ((instant.getUTCMonth() + 1) << 5) | instant.getUTCDate();
  const time = (instant.getUTCHours() << 11) | (instant.getUTCMinutes() << 5) | (instant.getUTCSeconds() >> 1);
  return { date, time };
}

/** Decodes a DOS date/time (as written by `dosDateTimeFromEpochSeconds`) to UTC epoch seconds. */
export function epochSecondsFromDosDateTime(dateTime: DosDateTime): number {
  const year = 1980 + (dateTime.date >> 9);
  const month = ((dateTime.date >> 5) & 0x0f) - 1;
  const day = dateTime.date & 0x1f;
  const hours = dateTime.time >> 11;
  const minutes = (dateTime.time >> 5) & 0x3f;
  const seconds = (dateTime.time & 0x1f) * 2;
  return Date.UTC(year, month, day, hours, minutes, seconds) / 1000;
}

/**
 * External file attributes for a regular file with Unix `mode` (APPNOTE 4.4.15; the Unix
 * convention of Info-ZIP and CPython's zipfile: st_mode in the upper 16 bits).
 */
export function externalAttributesFromMode(mode: number): number {
  return (((mode & 0o7777) | UNIX_REGULAR_FILE) << 16) >>> 0;
}

const ASCII_ONLY = /^[\x00-\x7f]*$/;
/** With the `u` flag a surrogate pair is one code point, so this matches only unpaired halves. */
const LONE_SURROGATE = /\p{Surrogate}/u;
const textEncoder = new TextEncoder();

/** True when `name` needs general-purpose flag bit 11 (APPNOTE appendix D). */
export function needsUtf8Flag(name: string): boolean {
  return !ASCII_ONLY.test(name);
}

/**
 * Why `name` would be unsafe to extract, or undefined when it is a safe relative path.
 * The same rule serves the writer (refuse to produce it) and the reader (refuse to trust it):
 * an extractor joins the name to a directory, so absolute paths, drive letters, `..` and
 * backslashes (a separator on Windows) could escape that directory.
 */
export function unsafeNameReason(name: string, options: { allowDirectory?: boolean } = {}): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name.includes('\0')) return 'the name contains a NUL character';
  if (name.includes('\\')) return 'the name contains a backslash';
  if (name.startsWith('/')) return 'the name is an absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'the name starts with a drive letter';
  const components = name.split('/');
  if (name.endsWith('/')) {
    if (!options.allowDirectory) return 'the name ends with "/" (a directory entry)';
    components.pop();
  }
  for (const component of components) {
    if (component === '') return 'the name has an empty path component ("//")';
    if (component === '..') return 'the name has a ".." component';
    if (component === '.') return 'the name has a "." component';
  }
  return undefined;
}

/**
 * Checks and encodes an entry name for the writer: a safe relative path, UTF-8 encodable, no
 * longer than the 16-bit name length field allows (APPNOTE 4.4.10).
 */
export function encodeEntryName(name: string): Uint8Array {
  if (LONE_SURROGATE.test(name)) {
    throw new PyzError('FILE_NAME_NOT_ENCODABLE', `archive member name ${JSON.stringify(name)} is not valid Unicode (lone surrogate) and cannot be encoded as UTF-8`, {
      value: name,
      fix: 'rename the file so that its name is valid UTF-8',
    });
  }
  const reason = unsafeNameReason(name);
  if (reason !== undefined) {
    throw new PyzError('ARCHIVE_UNSAFE_MEMBER', `archive member name ${JSON.stringify(name)} is refused: ${reason}`, {
      value: name,
      fix: 'use a relative path with "/" separators and no ".", ".." or empty components',
    });
  }
  const encoded = textEncoder.encode(name);
  if (encoded.length > 0xffff) {
    throw new PyzError('FILE_NAME_NOT_ENCODABLE', `archive member name is ${encoded.length} bytes long; zip allows at most 65535`, {
      value: name.slice(0, 200),
      fix: 'shorten the path',
    });
  }
  return encoded;
}

/** Byte-order comparison of two UTF-8 names: the order entries must be added in (SPEC §4). */
export function compareEncodedNames(left: Uint8Array, right: Uint8Array): number {
  const length = Math.min(left.length, right.length);
  for (let index = 0; index < length; index++) {
    const difference = left[index]! - right[index]!;
    if (difference !== 0) return difference;
  }
  return left.length - right.length;
}

/** Writes an unsigned 64-bit value held in a JS number (exact up to 2^53). */
export function writeUint64(view: DataView, offset: number, value: number): void {
  view.setUint32(offset, value % 0x1_0000_0000, true);
  view.setUint32(offset + 4, Math.floor(value / 0x1_0000_0000), true);
}

/** Reads an unsigned 64-bit value; undefined when it exceeds 2^53 (never valid for a file). */
export function readUint64(view: DataView, offset: number): number | undefined {
  const low = view.getUint32(offset, true);
  const high = view.getUint32(offset + 4, true);
  if (high > 0x1fffff) return undefined;
  return high * 0x1_0000_0000 + low;
}

/** Everything a local or central header needs to describe one entry. */
export interface EntryHeaderFields {
  readonly encodedName: Uint8Array;
  readonly method: CompressionMethod;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly dosDateTime: DosDateTime;
  readonly utf8: boolean;
}

/**
 * A local file header (APPNOTE 4.3.7). With `zip64`, the size fields hold 0xFFFFFFFF and a ZIP64
 * extra field carries both sizes (APPNOTE 4.5.3: the local ZIP64 field must hold both) — the
 * layout CPython's zipfile writes for force_zip64, which every reader we target accepts.
 */
export function encodeLocalFileHeader(fields: EntryHeaderFields, zip64: boolean): Uint8Array {
  const nameLength = fields.encodedName.length;
  const extraLength = zip64 ? ZIP64_LOCAL_EXTRA_FIELD_SIZE : 0;
  const bytes = new Uint8Array(LOCAL_FILE_HEADER_SIZE + nameLength + extraLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, LOCAL_FILE_HEADER_SIGNATURE, true); // local file header signature
  view.setUint16(4, zip64 ? VERSION_ZIP64 : VERSION_DEFAULT, true); // version needed to extract
  view.setUint16(6, fields.utf8 ? FLAG_UTF8 : 0, true); // general purpose bit flag
  view.setUint16(8, fields.method, true); // compression method
  view.setUint16(10, fields.dosDateTime.time, true); // last mod file time
  view.setUint16(12, fields.dosDateTime.date, true); // last mod file date
  view.setUint32(14, fields.crc32 >>> 0, true); // crc-32
  view.setUint32(18, zip64 ? ZIP64_LIMIT : fields.compressedSize, true); // compressed size
  view.setUint32(22, zip64 ? ZIP64_LIMIT : fields.uncompressedSize, true); // uncompressed size
  view.setUint16(26, nameLength, true); // file name length
  view.setUint16(28, extraLength, true); // extra field length
  bytes.set(fields.encodedName, LOCAL_FILE_HEADER_SIZE); // file name
  if (zip64) {
    const extra = LOCAL_FILE_HEADER_SIZE + nameLength;
    view.setUint16(extra, ZIP64_EXTRA_FIELD_ID, true); // header ID
    view.setUint16(extra + 2, 16, true); // data size
    writeUint64(view, extra + 4, fields.uncompressedSize); // original size
    writeUint64(view, extra + 12, fields.compressedSize); // compressed size
  }
  return bytes;
}

/** What the central directory holds of one entry (the name as given, encoded here). */
export interface CentralDirectoryEntry {
  readonly name: string;
  readonly utf8: boolean;
  readonly method: CompressionMethod;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  readonly externalAttributes: number;
  /** Relative to the start of the zip it belongs to. */
  readonly localHeaderOffset: number;
}

/**
 * The central directory file headers (APPNOTE 4.3.12) of `entries`, in order, in one buffer:
 * one allocation and one write for the whole directory (thousands of entries; a buffer, a view
 * and a write per header made it ~4 µs an entry, on the critical path at the end of a build).
 * Each value that does not fit 32 bits is 0xFFFFFFFF in its header and goes into the ZIP64 extra
 * field, in the order APPNOTE 4.5.3 fixes (uncompressed size, compressed size, local header
 * offset) and only the ones that overflow: CPython's zipfile (3.8 included) reads exactly those.
 */
export function encodeCentralDirectory(entries: readonly CentralDirectoryEntry[], dosDateTime: DosDateTime): Buffer {
  let total = 0;
  const nameLengths = new Uint32Array(entries.length);
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    nameLengths[index] = Buffer.byteLength(entry.name, 'utf8');
    total += CENTRAL_DIRECTORY_HEADER_SIZE + nameLengths[index]! + zip64ExtraLength(entry);
  }
  const bytes = Buffer.allocUnsafe(total);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 0;
  for (let index = 0; index < entries.length; index++) {
    const entry = entries[index]!;
    const nameLength = nameLengths[index]!;
    const extraLength = zip64ExtraLength(entry);
    const version = extraLength > 0 ? VERSION_ZIP64 : VERSION_DEFAULT;
    view.setUint32(offset, CENTRAL_DIRECTORY_HEADER_SIGNATURE, true); // central file header signature
    view.setUint16(offset + 4, MADE_BY_UNIX | version, true); // version made by
    view.setUint16(offset + 6, version, true); // version needed to extract
    view.setUint16(offset + 8, entry.utf8 ? FLAG_UTF8 : 0, true); // general purpose bit flag
    view.setUint16(offset + 10, entry.method, true); // compression method
    view.setUint16(offset + 12, dosDateTime.time, true); // last mod file time
    view.setUint16(offset + 14, dosDateTime.date, true); // last mod file date
    view.setUint32(offset + 16, entry.crc32 >>> 0, true); // crc-32
    view.setUint32(offset + 20, Math.min(entry.compressedSize, ZIP64_LIMIT), true); // compressed size
    view.setUint32(offset + 24, Math.min(entry.uncompressedSize, ZIP64_LIMIT), true); // uncompressed size
    view.setUint16(offset + 28, nameLength, true); // file name length
    view.setUint16(offset + 30, extraLength, true); // extra field length
    view.setUint32(offset + 32, 0, true); // file comment length, disk number start
    view.setUint16(offset + 36, 0, true); // internal file attributes
    view.setUint32(offset + 38, entry.externalAttributes >>> 0, true); // external file attributes
    view.setUint32(offset + 42, Math.min(entry.localHeaderOffset, ZIP64_LIMIT), true); // relative offset of local header
    offset += CENTRAL_DIRECTORY_HEADER_SIZE;
    offset += bytes.write(entry.name, offset, nameLength, 'utf8'); // file name
    if (extraLength > 0) {
      view.setUint16(offset, ZIP64_EXTRA_FIELD_ID, true); // header ID
      view.setUint16(offset + 2, extraLength - 4, true); // data size
      offset += 4;
      for (const value of [entry.uncompressedSize, entry.compressedSize, entry.localHeaderOffset]) {
        if (value < ZIP64_LIMIT) continue;
        writeUint64(view, offset, value);
        offset += 8;
      }
    }
  }
  return bytes;
}

/** Length of an entry's ZIP64 extra field in the central directory: 0 when every value fits. */
function zip64ExtraLength(entry: CentralDirectoryEntry): number {
  const overflowing = (entry.uncompressedSize >= ZIP64_LIMIT ? 1 : 0) + (entry.compressedSize >= ZIP64_LIMIT ? 1 : 0) + (entry.localHeaderOffset >= ZIP64_LIMIT ? 1 : 0);
  return overflowing === 0 ? 0 : 4 + 8 * overflowing;
}

/** Where the central directory is and how many entries it has. */
export interface CentralDirectoryLocation {
  readonly entryCount: number;
  readonly centralDirectorySize: number;
  readonly centralDirectoryOffset: number;
  /** Offset of the ZIP64 end record when one is written (it follows the central directory). */
  readonly zip64EndOfCentralDirectoryOffset: number;
}

/** True when the end of the archive needs the ZIP64 end record and locator (APPNOTE 4.3.14). */
export function needsZip64End(location: CentralDirectoryLocation): boolean {
  return (
    location.entryCount > MAX_ENTRIES_WITHOUT_ZIP64 ||
    location.centralDirectorySize >= ZIP64_LIMIT ||
    location.centralDirectoryOffset >= ZIP64_LIMIT
  );
}

/**
 * The end of an archive: ZIP64 end record and locator when needed, then the classic end record
 * with the overflowing fields saturated (APPNOTE 4.4.1.4). The ZIP64 record is written directly
 * before the locator and without extensible data: CPython 3.8's zipfile looks for it there.
 */
export function encodeEndOfArchive(location: CentralDirectoryLocation): Uint8Array {
  const zip64 = needsZip64End(location);
  const zip64Length = zip64 ? ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE + ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIZE : 0;
  const bytes = new Uint8Array(zip64Length + END_OF_CENTRAL_DIRECTORY_SIZE);
  const view = new DataView(bytes.buffer);
  if (zip64) {
    view.setUint32(0, ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, true); // zip64 end of central dir signature
    writeUint64(view, 4, ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE - 12); // size of this record after this field
    view.setUint16(12, MADE_BY_UNIX | VERSION_ZIP64, true); // version made by
    view.setUint16(14, VERSION_ZIP64, true); // version needed to extract
    view.setUint32(16, 0, true); // number of this disk
    view.setUint32(20, 0, true); // disk with the start of the central directory
    writeUint64(view, 24, location.entryCount); // entries on this disk
    writeUint64(view, 32, location.entryCount); // total entries
    writeUint64(view, 40, location.centralDirectorySize); // size of the central directory
    writeUint64(view, 48, location.centralDirectoryOffset); // offset of start of central directory
    const locator = ZIP64_END_OF_CENTRAL_DIRECTORY_SIZE;
    view.setUint32(locator, ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE, true); // zip64 locator signature
    view.setUint32(locator + 4, 0, true); // disk with the zip64 end record
    writeUint64(view, locator + 8, location.zip64EndOfCentralDirectoryOffset); // offset of the zip64 end record
    view.setUint32(locator + 16, 1, true); // total number of disks
  }
  const end = zip64Length;
  const count = Math.min(location.entryCount, MAX_ENTRIES_WITHOUT_ZIP64);
  view.setUint32(end, END_OF_CENTRAL_DIRECTORY_SIGNATURE, true); // end of central dir signature
  view.setUint16(end + 4, 0, true); // number of this disk
  view.setUint16(end + 6, 0, true); // disk with the start of the central directory
  view.setUint16(end + 8, count, true); // entries on this disk
  view.setUint16(end + 10, count, true); // total entries
  view.setUint32(end + 12, Math.min(location.centralDirectorySize, ZIP64_LIMIT), true); // size of the central directory
  view.setUint32(end + 16, Math.min(location.centralDirectoryOffset, ZIP64_LIMIT), true); // offset of start of central directory
  view.setUint16(end + 20, 0, true); // comment length
  return bytes;
}
