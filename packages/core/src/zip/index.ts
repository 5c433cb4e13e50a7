/** The zip container: writer, reader and the format helpers they share. */
export {
  DEFAULT_ARCHIVE_MODE,
  NestedZipWriter,
  ZipWriter,
  isDeflateWorthwhile,
  storedOrDeflated,
  type AddEntryOptions,
  type CommittedArchive,
  type EndEntryOptions,
  type NestedArchiveResult,
  type StartEntryOptions,
  type StartNestedArchiveOptions,
  type ZipEntrySink,
  type ZipEntryWriter,
  type ZipWriterOptions,
} from './writer.js';
export { MAX_CENTRAL_DIRECTORY_SIZE, MAX_IN_MEMORY_ENTRY_SIZE, READ_CHUNK_SIZE, ZipArchive, type ZipArchiveEntry } from './reader.js';
export { crc32, crc32Combine } from './crc32.js';
export {
  METHOD_DEFLATED,
  METHOD_STORED,
  dosDateTimeFromEpochSeconds,
  epochSecondsFromDosDateTime,
  unsafeNameReason,
  type CompressionMethod,
  type DosDateTime,
} from './format.js';
