/**
 * Whole files handed to a backend as paths (`CompressionBackend.compressFiles`): the backend's
 * threads read, hash and deflate them, so the main thread only writes the archive. Every backend
 * reports a batch the same way — one output buffer with the results back to back, five numbers
 * per file in `meta` and 32 digest bytes per file — decoded here into `CompressedFileResult`s.
 *
 * The worker-thread backends (wasm, zlib) share {@link READ_FILES_WORKER_SOURCE} and
 * {@link terminateWorkers}; the native addon does the same in Rust (native/src/lib.rs).
 */
import type { Worker } from 'node:worker_threads';
import { PIECE_SIZE } from './pieces.js';
import type { CompressedFileResult } from './types.js';

/** Slots per file in `meta`: offset, length, crc32, bytes read, status. */
export const FILE_META_STRIDE = 5;
export const DIGEST_LENGTH = 32;
/** Status values in `meta` (the same in lib.rs and in the worker source below). */
export const FILE_STATUS = { deflated: 0, stored: 1, oversize: 2, failed: 3 } as const;

/** A file to read, with the size the walk saw (used to balance work between threads). */
export interface FileTask {
  readonly path: string;
  readonly size: number;
}

/**
 * Stops a pool's worker threads and waits until they have exited. Each is ref'd again first:
 * terminate() resolves on the worker's 'exit' event, which an idle (unref'd) worker would let
 * the process end before delivering, leaving the pool's close() pending.
 */
export async function terminateWorkers(workers: readonly Worker[]): Promise<void> {
  await Promise.all(
    workers.map((worker) => {
      worker.ref();
      return worker.terminate();
    }),
  );
}

/**
 * Cuts `items` into at most `parts` contiguous slices of about equal bytes (`size`), each at
 * least `minimumBytes` unless it is the last, so each worker gets one message per batch (a slice
 * is never empty). Shared by the worker-thread backends for files and for pieces.
 */
export function sliceByWeight<T extends { readonly size: number }>(items: readonly T[], parts: number, minimumBytes = 1): T[][] {
  const total = items.reduce((sum, item) => sum + item.size, 0);
  const target = Math.max(minimumBytes, Math.ceil(total / parts));
  const slices: T[][] = [];
  let current: T[] = [];
  let currentBytes = 0;
  for (const item of items) {
    current.push(item);
    currentBytes += item.size;
    if (currentBytes >= target && slices.length < parts - 1) {
      slices.push(current);
      current = [];
      currentBytes = 0;
    }
  }
  if (current.length > 0) slices.push(current);
  return slices;
}

/** Turns one reported batch into results, in input order. */
export function decodeFileResults(count: number, output: Uint8Array, meta: Float64Array, digests: Uint8Array, errors: readonly (string | undefined | null)[] | undefined): CompressedFileResult[] {
  const results: CompressedFileResult[] = [];
  for (let index = 0; index < count; index++) {
    const slot = index * FILE_META_STRIDE;
    const status = meta[slot + 4]!;
    if (status === FILE_STATUS.failed) {
      results.push({ kind: 'failed', message: errors?.[index] ?? 'unknown error' });
    } else if (status === FILE_STATUS.oversize) {
      results.push({ kind: 'oversize', size: meta[slot + 3]! });
    } else {
      results.push({
        kind: status === FILE_STATUS.stored ? 'stored' : 'deflated',
        data: output.subarray(meta[slot]!, meta[slot]! + meta[slot + 1]!),
        crc32: meta[slot + 2]!,
        size: meta[slot + 3]!,
        sha256: digests.subarray(index * DIGEST_LENGTH, (index + 1) * DIGEST_LENGTH),
      });
    }
  }
  return results;
}

/**
 * Worker-side half, as JavaScript source for `new Worker(source, { eval: true })` (see
 * wasm-worker.ts for why workers are strings). Defines `readFiles(paths, fileLimit, deflatePiece)`
 * where `deflatePiece(piece, endsStream, crc)` deflates one piece (a sync-flushed one unless
 * `endsStream`) and returns `{ compressed, crc32 }`, `crc32` being `crc` carried on over the piece
 * (`compressed` may be a view that the next call overwrites). Files are cut into pieces exactly as
 * `planPieces` cuts them (pieces.ts), so the stream is the one `compressBatch` gives. Returns
 * `{ output: ArrayBuffer, meta, digests, errors }`, all transferable. A file larger than
 * `fileLimit` is reported as oversize and not deflated, and one that deflate does not shrink
 * comes back as its own bytes (SPEC §4: stored).
 *
 * Memory stays flat however many files a worker reads: every file is read into one scratch
 * buffer that only grows (to the largest file, at most `fileLimit`), and results are appended to
 * one output buffer, instead of a Buffer per file that only the worker's next GC would free.
 */
export const READ_FILES_WORKER_SOURCE: string = `
const readFilesFs = require('node:fs');
const readFilesCrypto = require('node:crypto');
let readFilesScratch = new Uint8Array(256 * 1024);
/** Reads a whole file into the scratch buffer; returns its length, or -1 past fileLimit. */
function readIntoScratch(path, fileLimit) {
  const descriptor = readFilesFs.openSync(path, 'r');
  try {
    let length = 0;
    for (;;) {
      if (length === readFilesScratch.length) {
        if (length > fileLimit) return -1;
        const bigger = new Uint8Array(Math.min(readFilesScratch.length * 2, fileLimit + 1));
        bigger.set(readFilesScratch);
        readFilesScratch = bigger;
      }
      const read = readFilesFs.readSync(descriptor, readFilesScratch, length, readFilesScratch.length - length, null);
      if (read === 0) return length > fileLimit ? -1 : length;
      length += read;
    }
  } finally {
    readFilesFs.closeSync(descriptor);
  }
}
function readFiles(paths, fileLimit, deflatePiece) {
  const count = paths.length;
  const meta = new Float64Array(count * ${FILE_META_STRIDE});
  const digests = new Uint8Array(count * ${DIGEST_LENGTH});
  const errors = [];
  let output = new Uint8Array(256 * 1024);
  let total = 0;
  const append = (bytes) => {
    if (total + bytes.length > output.length) {
      const bigger = new Uint8Array(Math.max(output.length * 2, total + bytes.length));
      bigger.set(output.subarray(0, total));
      output = bigger;
    }
    output.set(bytes, total);
    total += bytes.length;
  };
  for (let index = 0; index < count; index++) {
    const slot = index * ${FILE_META_STRIDE};
    let length;
    try {
      length = readIntoScratch(paths[index], fileLimit);
    } catch (error) {
      meta[slot + 4] = ${FILE_STATUS.failed};
      errors[index] = String((error && error.message) || error);
      continue;
    }
    if (length < 0) {
      meta[slot + 3] = fileLimit + 1;
      meta[slot + 4] = ${FILE_STATUS.oversize};
      continue;
    }
    const content = readFilesScratch.subarray(0, length);
    meta[slot + 3] = length;
    digests.set(readFilesCrypto.createHash('sha256').update(content).digest(), index * ${DIGEST_LENGTH});
    const start = total;
    let crc = 0;
    let offset = 0;
    do {
      const end = Math.min(offset + ${PIECE_SIZE}, length);
      const result = deflatePiece(content.subarray(offset, end), end === length, crc);
      append(result.compressed);
      crc = result.crc32;
      offset = end;
    } while (offset < length);
    const stored = total - start >= length;
    if (stored) {
      total = start;
      append(content);
    }
    meta[slot] = start;
    meta[slot + 1] = total - start;
    meta[slot + 2] = crc;
    meta[slot + 4] = stored ? ${FILE_STATUS.stored} : ${FILE_STATUS.deflated};
  }
  return { output: output.slice(0, total).buffer, meta, digests, errors: errors.length > 0 ? errors : undefined };
}
`;
