/**
 * The `js` backend: fflate's `deflateSync` and a JS CRC-32, on the main thread.
 *
 * Pure JavaScript, so it runs where worker threads, addons and WASM do not. The cost: one core
 * only, and the event loop is busy while a slice compresses — typically 20–60 MB/s at level 6,
 * several times slower than `native` on a multi-core machine. It yields to the event loop after
 * every ~4 MB of input so I/O and timers still run during a large batch.
 *
 * Only fflate's one-shot `deflateSync` is used: fflate's streaming `Zip`/`ZipDeflate` classes
 * produce corrupt entries in some cases. Levels above 9 compress as 9.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { deflateSync } from 'fflate';
import { PyzError } from '../errors.js';
import { crc32 } from '../zip/crc32.js';
import { zlibLevel } from './levels.js';
import type { CompressedBuffer, CompressionBackend } from './types.js';

/** Input bytes compressed between two yields to the event loop. */
const BYTES_BETWEEN_YIELDS = 4 * 1024 * 1024;

class JsBackend implements CompressionBackend {
  readonly name = 'js' as const;
  readonly concurrency = 1;
  #closed = false;

  async compressBatch(inputs: readonly Uint8Array[], level: number): Promise<CompressedBuffer[]> {
    if (this.#closed) throw new PyzError('BACKEND_UNAVAILABLE', 'the js compression backend was used after close()', { value: 'js' });
    if (!Number.isFinite(level)) {
      throw new PyzError('INVALID_OPTION', `compression level ${String(level)} is not a number`, { value: level, fix: 'use a level from 1 to 12' });
    }
    const fflateLevel = Math.max(0, zlibLevel(Math.round(level))) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
    const results: CompressedBuffer[] = [];
    let sinceYield = 0;
    for (const input of inputs) {
      results.push({ compressed: deflateSync(input, { level: fflateLevel }), crc32: crc32(input) });
      sinceYield += input.length;
      if (sinceYield >= BYTES_BETWEEN_YIELDS) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    return results;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** Starts the `js` backend (nothing to load; it cannot fail). */
export async function createJsBackend(): Promise<CompressionBackend> {
  return new JsBackend();
}
