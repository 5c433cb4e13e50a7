/**
 * The compression backend interface. Every backend produces raw deflate streams (RFC 1951)
 * and the CRC-32 of the input; the archive writer never compresses anything itself.
 *
 * Backends: `native` (libdeflate, Node-API addon, native threads), `wasm` (the same libdeflate
 * compiled to WebAssembly, worker_threads), `zlib` (node:zlib in a worker_threads pool) and `js`
 * (fflate's deflateSync, pure JS; never fflate's streaming Zip, which corrupts some entries).
 */
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
  /** Releases threads and memory; the backend is unusable afterwards. */
  close(): Promise<void>;
}
