/**
 * The backend loader: `auto` falls back native → wasm → zlib, PYZ_BACKEND forces one backend,
 * and a backend that cannot load fails with BACKEND_UNAVAILABLE and every load error chained.
 * Each backend the loader returns round-trips through node:zlib and fflate.
 */
import zlib from 'node:zlib';

import { inflateSync } from 'fflate';
import { describe, expect, it } from 'vitest';

import { isPyzError, PyzError } from '../src/errors.js';
import { AUTO_BACKEND_ORDER, loadBackend, type LoadBackendOptions } from '../src/compress/index.js';
import type { BackendName, CompressionBackend } from '../src/compress/types.js';

const MISSING_ADDON = '/nonexistent/pyz-native.linux-x64-gnu.node';
const MISSING_WASM = '/nonexistent/pyz-deflate.wasm';
const INPUT = Buffer.from('import os\nprint(os.getcwd())\n'.repeat(5000));

async function withBackend<T>(loading: Promise<CompressionBackend>, use: (backend: CompressionBackend) => Promise<T>): Promise<T> {
  const backend = await loading;
  try {
    return await use(backend);
  } finally {
    await backend.close();
  }
}

async function loadFailure(preference: Parameters<typeof loadBackend>[0], options: LoadBackendOptions): Promise<PyzError> {
  const error: unknown = await loadBackend(preference, options).then(
    async (backend) => {
      await backend.close();
      return undefined;
    },
    (caught: unknown) => caught,
  );
  if (!isPyzError(error)) throw new Error(`expected a PyzError, got ${String(error)}`);
  return error;
}

describe('loadBackend', () => {
  it('auto loads the native addon first', async () => {
    await withBackend(loadBackend('auto', { env: {}, concurrency: 2 }), async (backend) => {
      expect(backend.name).toBe('native');
      expect(backend.concurrency).toBe(2);
    });
    expect(AUTO_BACKEND_ORDER).toEqual(['native', 'wasm', 'zlib']);
  });

  it('auto falls back to wasm, then zlib, reporting each skipped backend', async () => {
    const skipped: BackendName[] = [];
    const onFallback = (name: BackendName, error: Error): void => {
      skipped.push(name);
      expect(error.message).toContain('/nonexistent/');
    };
    await withBackend(loadBackend('auto', { env: {}, nativeAddonPath: MISSING_ADDON, onFallback }), async (backend) => {
      expect(backend.name).toBe('wasm');
    });
    await withBackend(loadBackend(undefined, { env: {}, nativeAddonPath: MISSING_ADDON, wasmPath: MISSING_WASM, onFallback }), async (backend) => {
      expect(backend.name).toBe('zlib');
    });
    expect(skipped).toEqual(['native', 'native', 'wasm']);
  });

  it('PYZ_BACKEND forces a backend over the preference', async () => {
    for (const name of ['native', 'wasm', 'zlib', 'js'] as const) {
      await withBackend(loadBackend('auto', { env: { PYZ_BACKEND: name } }), async (backend) => {
        expect(backend.name).toBe(name);
      });
    }
    await withBackend(loadBackend('native', { env: { PYZ_BACKEND: 'js' } }), async (backend) => {
      expect(backend.name).toBe('js');
    });
  });

  it('a forced backend that cannot load fails with BACKEND_UNAVAILABLE and the load error chained', async () => {
    const error = await loadFailure('auto', { env: { PYZ_BACKEND: 'native' }, nativeAddonPath: MISSING_ADDON });
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(error.value).toBe('native');
    expect(error.message).toContain('PYZ_BACKEND=native');
    expect(error.message).toContain(MISSING_ADDON);
    expect(error.fix).toContain('npm run build -w native');
    expect(error.cause).toBeInstanceOf(AggregateError);
    const errors = (error.cause as AggregateError).errors as Error[];
    expect(errors).toHaveLength(1);
    expect(errors[0]!.message).toMatch(/^native: .*nonexistent/);
  });

  it('an explicit preference never falls back', async () => {
    const error = await loadFailure('wasm', { env: {}, wasmPath: MISSING_WASM });
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(((error.cause as AggregateError).errors as Error[]).map((each) => each.message.split(':')[0])).toEqual(['wasm']);
    expect(error.message).toContain(MISSING_WASM);
  });

  it('rejects an unknown PYZ_BACKEND or preference with INVALID_OPTION', async () => {
    const fromEnv = await loadFailure('auto', { env: { PYZ_BACKEND: 'gzip' } });
    expect(fromEnv.code).toBe('INVALID_OPTION');
    expect(fromEnv.message).toContain('"gzip"');
    const fromCode = await loadFailure('fast' as BackendName, { env: {} });
    expect(fromCode.code).toBe('INVALID_OPTION');
  });

  it.each(['native', 'wasm', 'zlib', 'js'] as const)('%s, as loaded, round-trips at level 1, 6 and 12 (zlib-based: 9)', async (name) => {
    await withBackend(loadBackend(name, { env: {} }), async (backend) => {
      for (const level of [1, 6, 12]) {
        const [result] = await backend.compressBatch([INPUT], level);
        expect(result!.crc32).toBe(zlib.crc32(INPUT));
        expect(zlib.inflateRawSync(result!.compressed).equals(INPUT)).toBe(true);
        expect(Buffer.from(inflateSync(result!.compressed)).equals(INPUT)).toBe(true);
      }
    });
  });
});
