/**
 * Source of the worker thread behind the `zlib` backend (see ./zlib-pool.ts).
 *
 * It is a string started with `new Worker(source, { eval: true })` rather than a module file:
 * the same code then runs from `src/` under vitest (Node 20 cannot start a `.ts` worker), from
 * `dist/`, and inside a user's bundle, without resolving a worker path at run time.
 *
 * Protocol (one message per task, every buffer transferred, never copied):
 *   in:  { id, level, input: ArrayBuffer (inputs back to back), lengths: Float64Array }
 *   out: { id, output: ArrayBuffer (deflate streams back to back), lengths: Float64Array, crcs: Uint32Array }
 *        or { id, error: string }
 *
 * Each input is compressed with the synchronous `deflateRawSync`: for many small files it is
 * much faster than node:zlib's async API, whose per-call libuv round trip dominates.
 */
export const ZLIB_WORKER_SOURCE: string = `
'use strict';
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', (task) => {
  try {
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
      crcs[index] = zlib.crc32(piece);
      outputs[index] = zlib.deflateRawSync(piece, { level: task.level });
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
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: String((error && error.stack) || error) });
  }
});
`;
