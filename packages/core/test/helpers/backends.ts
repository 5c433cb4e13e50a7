import { createJsBackend } from '../../src/compress/js.js';
import type { BackendName, CompressionBackend } from '../../src/compress/types.js';
import { createZlibBackend } from '../../src/compress/zlib-pool.js';

/** How a test suite starts one compression backend. */
export interface BackendFactory {
  readonly name: BackendName;
  /** Highest level that changes the output; higher levels must give the same bytes. */
  readonly maxEffectiveLevel: number;
  create(): Promise<CompressionBackend>;
}

/**
 * Every backend the shared suite (compress-backends.test.ts) runs against. Add `native` and
 * `wasm` here (maxEffectiveLevel 12) once they exist; the whole suite then covers them.
 */
export const BACKEND_FACTORIES: readonly BackendFactory[] = [
  { name: 'zlib', maxEffectiveLevel: 9, create: () => createZlibBackend({ concurrency: 2 }) },
  { name: 'js', maxEffectiveLevel: 9, create: () => createJsBackend() },
];
