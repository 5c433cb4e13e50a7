/**
 * Picks and starts a compression backend. `auto` tries, in order: `native` (libdeflate addon),
 * `wasm` (the same libdeflate in worker threads; identical bytes), `zlib` (node:zlib in worker
 * threads). `js` (fflate, one thread) is used only when asked for. The `PYZ_BACKEND` environment
 * variable forces one backend whatever the code asked for; a forced backend that cannot load is
 * an error, never a silent fallback.
 */
import { PyzError } from '../errors.js';
import { createJsBackend } from './js.js';
import { createNativeBackend } from './native.js';
import type { BackendName, CompressionBackend } from './types.js';
import { createWasmBackend } from './wasm.js';
import { createZlibBackend } from './zlib-pool.js';

export type { BackendName, CompressedBuffer, CompressedFileResult, CompressionBackend } from './types.js';
export { DEFAULT_LEVEL, MAX_LEVEL, MAX_ZLIB_LEVEL, resolveLevel, zlibLevel } from './levels.js';
export type { CompressionLevel } from './levels.js';
export { PIECE_SIZE, crc32Combine } from './pieces.js';
export { createNativeBackend, defaultNativeAddonPath } from './native.js';
export type { NativeBackendOptions } from './native.js';
export { createWasmBackend, defaultWasmPath } from './wasm.js';
export type { WasmBackendOptions } from './wasm.js';

/** What a caller may ask for: one backend, or `auto`. */
export type BackendPreference = 'auto' | BackendName;

/** The order `auto` tries. */
export const AUTO_BACKEND_ORDER: readonly BackendName[] = ['native', 'wasm', 'zlib'];

const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm', 'zlib', 'js'];

export interface LoadBackendOptions {
  /**
   * Threads (native) or worker threads (wasm, zlib) to compress on.
   * @default os.availableParallelism()
   */
  concurrency?: number;
  /** Path of the native addon. @default defaultNativeAddonPath() */
  nativeAddonPath?: string;
  /** Path of the WASM module. @default defaultWasmPath() */
  wasmPath?: string;
  /** Where `PYZ_BACKEND` is read from. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Told about each backend `auto` skipped, and why (e.g. to log that the addon is not built). */
  onFallback?: (skipped: BackendName, error: Error) => void;
}

function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

async function createBackend(name: BackendName, options: LoadBackendOptions): Promise<CompressionBackend> {
  const concurrency = options.concurrency;
  switch (name) {
    case 'native':
      return createNativeBackend({ addonPath: options.nativeAddonPath, concurrency });
    case 'wasm':
      return createWasmBackend({ wasmPath: options.wasmPath, concurrency });
    case 'zlib':
      return createZlibBackend({ concurrency });
    case 'js':
      return createJsBackend();
  }
}

/**
 * Starts the backend `preference` names (`auto`: the first of native → wasm → zlib that loads).
 * `PYZ_BACKEND=native|wasm|zlib|js` overrides `preference`.
 *
 * Fails with `BACKEND_UNAVAILABLE` when no candidate loads; its `cause` is an AggregateError of
 * every load error and its message lists them. Read `backend.name` to see which one loaded.
 */
export async function loadBackend(preference: BackendPreference = 'auto', options: LoadBackendOptions = {}): Promise<CompressionBackend> {
  const forced = (options.env ?? process.env).PYZ_BACKEND?.trim();
  if (forced !== undefined && forced !== '' && !isBackendName(forced)) {
    throw new PyzError('INVALID_OPTION', `PYZ_BACKEND=${JSON.stringify(forced)} is not a compression backend`, {
      value: forced,
      fix: `set PYZ_BACKEND to one of ${BACKEND_NAMES.join(', ')}, or unset it to let pyz choose`,
    });
  }
  if (preference !== 'auto' && !isBackendName(preference)) {
    throw new PyzError('INVALID_OPTION', `compression backend ${JSON.stringify(preference)} is unknown`, {
      value: preference,
      fix: `use "auto" or one of ${BACKEND_NAMES.join(', ')}`,
    });
  }
  const wanted: BackendPreference = forced ? (forced as BackendName) : preference;
  const candidates = wanted === 'auto' ? AUTO_BACKEND_ORDER : [wanted];
  const errors: Error[] = [];
  for (const [index, name] of candidates.entries()) {
    try {
      return await createBackend(name, options);
    } catch (error) {
      if (error instanceof PyzError && error.code === 'INVALID_OPTION') throw error;
      const failure = error instanceof Error ? error : new Error(String(error));
      errors.push(new Error(`${name}: ${failure.message}`, { cause: failure }));
      if (index + 1 < candidates.length) options.onFallback?.(name, failure);
    }
  }
  const asked = forced ? `PYZ_BACKEND=${forced}` : `backend "${wanted}"`;
  throw new PyzError(
    'BACKEND_UNAVAILABLE',
    `no compression backend could be loaded for ${asked}:\n${errors.map((error) => `  - ${error.message}`).join('\n')}`,
    {
      value: forced || wanted,
      fix:
        candidates.includes('native') || candidates.includes('wasm')
          ? 'build the libdeflate artifacts with `npm run build -w native` (apt packages: libdeflate-dev clang-16 lld-16 wasi-libc libclang-rt-16-dev-wasm32 dpkg-dev), or choose another backend (PYZ_BACKEND=zlib)'
          : 'choose another backend (unset PYZ_BACKEND, or use "auto")',
      cause: new AggregateError(errors, `every ${asked} candidate failed to load`),
    },
  );
}
