/**
 * The body of each WASM worker thread, as plain JavaScript source run with
 * `new Worker(source, { eval: true })`. A string rather than a module file because the same code
 * must run from `src/` under vitest (where no `.js` file exists next to the `.ts`) and from `dist/`.
 *
 * Protocol. workerData: `{ module: WebAssembly.Module, gcLock }` (the module compiled once by the
 * main thread; `gcLock`, see young-gc.ts).
 * The worker posts `{ ready: true }` after instantiating, or `{ fatal: message }`.
 * Request: `{ id, level, input: Uint8Array (own buffer, transferred), endsStream: boolean }`.
 * Reply: `{ id, compressed: Uint8Array (transferred), crc32 }` or `{ id, error: message }`.
 * Or a batch of whole files (file-tasks.ts), read and hashed here so the main thread does not:
 * request `{ id, level, paths: string[], fileLimit }`, reply `{ id, files: { output, meta,
 * digests, errors } }` (buffers transferred).
 * Input and output areas in linear memory are kept and only grown, so a long build does not
 * allocate per member; pieces are at most PIECE_SIZE, which bounds the memory of a worker.
 */
import { READ_FILES_WORKER_SOURCE } from './file-tasks.js';
import { YOUNG_GC_WORKER_SOURCE } from '../young-gc.js';

export const WASM_WORKER_SOURCE: string = String.raw`
'use strict';
${READ_FILES_WORKER_SOURCE}
${YOUNG_GC_WORKER_SOURCE}
const { parentPort, workerData } = require('node:worker_threads');
let exports_;
try {
  exports_ = new WebAssembly.Instance(workerData.module, {}).exports;
} catch (error) {
  parentPort.postMessage({ fatal: String((error && error.stack) || error) });
  throw error;
}
const areas = { input: { pointer: 0, capacity: 0 }, output: { pointer: 0, capacity: 0 } };
function reserve(area, size) {
  if (area.capacity >= size && area.pointer !== 0) return area.pointer;
  if (area.pointer !== 0) exports_.pyz_free(area.pointer);
  area.capacity = Math.max(size, 1);
  area.pointer = exports_.pyz_malloc(area.capacity) >>> 0;
  if (area.pointer === 0) {
    area.capacity = 0;
    throw new Error('WASM out of memory allocating ' + size + ' bytes');
  }
  return area.pointer;
}
function deflate(input, level, endsStream, crc) {
  const bound = exports_.pyz_deflate_bound(input.length) >>> 0;
  const inputPointer = reserve(areas.input, input.length);
  const outputPointer = reserve(areas.output, bound);
  // Read memory.buffer only after every allocation: growing memory detaches the old buffer.
  new Uint8Array(exports_.memory.buffer, inputPointer, input.length).set(input);
  const length = exports_.pyz_deflate_piece(level, inputPointer, input.length, outputPointer, bound, endsStream ? 1 : 0) >>> 0;
  if (length === 0) throw new Error('libdeflate failed on a ' + input.length + '-byte piece at level ' + level);
  const crc32 = exports_.pyz_crc32(crc, inputPointer, input.length) >>> 0;
  // A view into linear memory, valid until the next call: callers copy what they keep.
  return { compressed: new Uint8Array(exports_.memory.buffer, outputPointer, length), crc32 };
}
parentPort.on('message', (task) => {
  try {
    if (task.paths !== undefined) {
      const files = readFiles(task.paths, task.fileLimit, (piece, endsStream, crc) => deflate(piece, task.level, endsStream, crc));
      parentPort.postMessage({ id: task.id, files }, [files.output, files.meta.buffer, files.digests.buffer]);
      collectYoungGarbage();
      return;
    }
    const result = deflate(task.input, task.level, task.endsStream, 0);
    const compressed = result.compressed.slice();
    const crc32 = result.crc32;
    parentPort.postMessage({ id: task.id, compressed, crc32 }, [compressed.buffer]);
    collectYoungGarbage();
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: String((error && error.stack) || error) });
  }
});
parentPort.postMessage({ ready: true });
`;
