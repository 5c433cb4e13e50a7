/**
 * The compression backend interface. Every backend produces raw deflate streams (RFC 1951)
 * and the CRC-32 of the input; the archive writer never compresses anything itself.
 *
 * Backends: `native` (libdeflate, Node-API addon, native threads), `wasm` (the same libdeflate
 * compiled to WebAssembly, worker_threads), `zlib` (node:zlib in a worker_threads pool) and `js`
 * (fflate's deflateSync, pure JS; never fflate's streaming Zip, which corrupts some entries).
 */
import type { FileTask } from './file-tasks.js';

export type BackendName = 'native' | 'wasm' | 'zlib' | 'js';

export interface CompressedBuffer {
  /** Raw deflate stream of the input. */
  readonly compressed: Uint8Array;
  /** CRC-32 (ISO-HDLC, as in zip) of the uncompressed input, unsigned. */
  readonly crc32: number;
}

export interface CompressionBackend {
  readonly name: BackendName;
  /** Threads the backend compresses on. */
  readonly concurrency: number;
  /**
   * Deflate every input at `level` (1–12; backends based on zlib cap at 9).
   * Resolves in input order. Must not block the event loop for long.
   */
  compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]>;
  /**
   * Optional: deflates pieces of members, each piece on its own (pieces.ts). A piece whose
   * `endsStream` is 1 ends its member's stream; any other ends on a byte boundary after a sync
   * flush, so a member's pieces concatenated in order are one raw deflate stream. Each result's
   * CRC-32 covers its piece only. Resolves in input order. Pieces cut as `planPieces` cuts give
   * the bytes `compressBatch` gives, which is how the builder streams a big member through the
   * backend piece by piece, with no more of it in memory than the bytes in flight.
   */
  compressPieces?(pieces: readonly Uint8Array[], endsStream: Uint8Array, level: number): Promise<CompressedBuffer[]>;
  /**
   * Optional: reads, hashes (SHA-256) and deflates whole files off the main thread, for files of
   * at most {@link CompressionBackend.fileLimit} bytes. Resolves in input order. The bytes must
   * equal what `compressBatch` gives for the same content (files over the limit come back
   * `oversize`, and the caller sends them through `compressBatch`, cut into pieces).
   */
  compressFiles?(files: readonly FileTask[], level: number): Promise<CompressedFileResult[]>;
  /** Largest file `compressFiles` takes, in bytes. */
  readonly fileLimit?: number;
  /** Releases threads and memory; the backend is unusable afterwards. */
  close(): Promise<void>;
}

/** What `compressFiles` learned about one file. */
export type CompressedFileResult =
  | {
      /** `deflated`: `data` is a raw deflate stream; `stored`: deflate did not shrink it, `data` is the file. */
      readonly kind: 'deflated' | 'stored';
      readonly data: Uint8Array;
      readonly crc32: number;
      /** Bytes read (the file may have changed since it was listed). */
      readonly size: number;
      /** SHA-256 of the bytes read. */
      readonly sha256: Uint8Array;
    }
  /** The file has grown past `fileLimit` since it was listed; `size` is a lower bound (> fileLimit). */
  | { readonly kind: 'oversize'; readonly size: number }
  /** The file could not be read; `message` is the operating system's reason. */
  | { readonly kind: 'failed'; readonly message: string };
