import { createJsBackend } from '../../src/compress/js.js';
import { createNativeBackend } from '../../src/compress/native.js';
import { createWasmBackend } from '../../src/compress/wasm.js';
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
 * Every backend the shared suite (compress-backends.test.ts) runs against. native and WASM must
 * be built (npm run build:native); a missing artifact fails the suite, never skips it.
 */
export const BACKEND_FACTORIES: readonly BackendFactory[] = [
  { name: 'native', maxEffectiveLevel: 12, create: async () => createNativeBackend({ concurrency: 2 }) },
  { name: 'wasm', maxEffectiveLevel: 12, create: () => createWasmBackend({ concurrency: 2 }) },
  { name: 'zlib', maxEffectiveLevel: 9, create: () => createZlibBackend({ concurrency: 2 }) },
  { name: 'js', maxEffectiveLevel: 9, create: () => createJsBackend() },
];
