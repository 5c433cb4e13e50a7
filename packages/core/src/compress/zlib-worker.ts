/**
 * Source of the worker thread behind the `zlib` backend (see ./zlib-pool.ts).
 *
 * It is a string started with `new Worker(source, { eval: true })` rather than a module file:
 * the same code then runs from `src/` under vitest (Node 20 cannot start a `.ts` worker), from
 * `dist/`, and inside a user's bundle, without resolving a worker path at run time.
 *
 * Protocol (one message per task, every buffer transferred, never copied):
 *   in:  { id, level, input: ArrayBuffer (inputs back to back), lengths: Float64Array,
 *          endsStream: Uint8Array (0: a piece whose member goes on, see pieces.ts) }
 *   out: { id, output: ArrayBuffer (deflate streams back to back), lengths: Float64Array, crcs: Uint32Array }
 *        or { id, error: string }
 *   or a batch of whole files, read and hashed here so the main thread does not (file-tasks.ts):
 *   in:  { id, level, paths: string[], fileLimit }
 *   out: { id, files: { output: ArrayBuffer, meta: Float64Array, digests: Uint8Array, errors? } }
 *
 * Big members are cut into pieces like the libdeflate backends cut them (pieces.ts), so one big
 * file keeps every worker busy: a piece that does not end its member is finished with
 * Z_SYNC_FLUSH (no final block, then an empty stored block, RFC 1951 3.2.4), so the pieces of a
 * member concatenate into one valid deflate stream.
 *
 * Each input is compressed with the synchronous `deflateRawSync`: for many small files it is
 * much faster than node:zlib's async API, whose per-call libuv round trip dominates.
 */
import { READ_FILES_WORKER_SOURCE } from './file-tasks.js';
import { YOUNG_GC_WORKER_SOURCE } from '../young-gc.js';

export const ZLIB_WORKER_SOURCE: string = `
'use strict';
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
${READ_FILES_WORKER_SOURCE}
${YOUNG_GC_WORKER_SOURCE}
/** One piece; one that does not end its member ends with a sync flush instead of a final block. */
function deflatePiece(piece, level, endsStream, crc) {
  const finishFlush = endsStream ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH;
  return { compressed: zlib.deflateRawSync(piece, { level, finishFlush }), crc32: zlib.crc32(piece, crc) };
}
parentPort.on('message', (task) => {
  try {
    if (task.paths !== undefined) {
      const files = readFiles(task.paths, task.fileLimit, (piece, endsStream, crc) => deflatePiece(piece, task.level, endsStream, crc));
      parentPort.postMessage({ id: task.id, files }, [files.output, files.meta.buffer, files.digests.buffer]);
      collectYoungGarbage();
      return;
    }
    const input = new Uint8Array(task.input);
    const count = task.lengths.length;
    const outputs = new Array(count);
    const lengths = new Float64Array(count);
    const crcs = new Uint32Array(count);
    let offset = 0;
    let total = 0;
    for (let index = 0; index < count; index++) {
      const piece = input.subarray(offset, offset + task.lengths[index]);
      offset += task.lengths[index];
      const result = deflatePiece(piece, task.level, task.endsStream[index], 0);
      crcs[index] = result.crc32;
      outputs[index] = result.compressed;
      lengths[index] = outputs[index].length;
      total += outputs[index].length;
    }
    const output = new Uint8Array(total);
    let position = 0;
    for (const piece of outputs) {
      output.set(piece, position);
      position += piece.length;
    }
    parentPort.postMessage({ id: task.id, output: output.buffer, lengths, crcs }, [output.buffer, lengths.buffer, crcs.buffer]);
    collectYoungGarbage();
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: String((error && error.stack) || error) });
  }
});
`;
