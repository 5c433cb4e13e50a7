/**
 * The libdeflate backends (native addon and WASM): round trips checked by two independent
 * inflaters (node:zlib and fflate), CRC-32 against node:zlib, byte identity between the two
 * backends, and the piece splitting that keeps every core busy on one big member.
 * The artifacts come from `npm run build -w native`; if they are missing these tests FAIL.
 */
import { randomBytes } from 'node:crypto';
import { openSync, readFileSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import zlib from 'node:zlib';

import { inflateSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isPyzError } from '../src/errors.js';
import { DEFAULT_LEVEL, resolveLevel } from '../src/compress/levels.js';
import { createNativeBackend } from '../src/compress/native.js';
import { crc32Combine, PIECE_SIZE, planPieces } from '../src/compress/pieces.js';
import type { CompressionBackend } from '../src/compress/types.js';
import { createWasmBackend } from '../src/compress/wasm.js';

/** `length` bytes of the node binary from `offset`: real machine code and data, present everywhere. */
function nodeBinarySlice(offset: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const descriptor = openSync(process.execPath, 'r');
  try {
    const read = readSync(descriptor, buffer, 0, length, offset);
    return buffer.subarray(0, read);
  } finally {
    closeSync(descriptor);
  }
}

/** Python sources and other text: the source tree of this package, then the Python stdlib. */
function textCorpus(limit: number): Buffer {
  const parts: Buffer[] = [];
  let total = 0;
  const visit = (directory: string): void => {
    for (const name of readdirSync(directory).sort()) {
      if (total >= limit) return;
      const path = join(directory, name);
      const stat = statSync(path, { throwIfNoEntry: false });
      if (stat?.isDirectory() && name !== '__pycache__' && name !== 'site-packages') visit(path);
      else if (stat?.isFile() && /\.(py|ts|txt|md)$/.test(name)) {
        const content = readFileSync(path);
        parts.push(content);
        total += content.length;
      }
    }
  };
  visit(join(import.meta.dirname, '../src'));
  const stdlib = readdirSync('/usr/lib').filter((name) => /^python3\.\d+$/.test(name)).sort()[0];
  if (stdlib) visit(join('/usr/lib', stdlib));
  return Buffer.concat(parts).subarray(0, limit);
}

const TEXT = textCorpus(600_000);
const BINARY = nodeBinarySlice(4_000_000, 2_500_000); // three pieces, the last one partial
const RANDOM = randomBytes(PIECE_SIZE + 12_345);
const HUGE = nodeBinarySlice(0, 30_000_000);

const CASES: [string, Uint8Array][] = [
  ['empty', new Uint8Array(0)],
  ['1 byte', Uint8Array.of(0x41)],
  ['text', TEXT],
  ['binary, split in pieces', BINARY],
  ['incompressible random, split in pieces', RANDOM],
  ['exactly one piece', BINARY.subarray(0, PIECE_SIZE)],
  ['one piece and one byte', BINARY.subarray(0, PIECE_SIZE + 1)],
];

function expectRoundTrip(input: Uint8Array, result: { compressed: Uint8Array; crc32: number }): void {
  expect(result.crc32).toBe(zlib.crc32(input));
  const byZlib = zlib.inflateRawSync(result.compressed);
  expect(byZlib.length).toBe(input.length);
  expect(byZlib.equals(input)).toBe(true);
  const byFflate = inflateSync(result.compressed, { out: new Uint8Array(input.length) });
  expect(Buffer.from(byFflate.buffer, byFflate.byteOffset, byFflate.byteLength).equals(input)).toBe(true);
}

const backends: Record<'native' | 'wasm', CompressionBackend> = {} as Record<'native' | 'wasm', CompressionBackend>;

beforeAll(async () => {
  backends.native = createNativeBackend({ concurrency: 2 });
  backends.wasm = await createWasmBackend({ concurrency: 2 });
});

afterAll(async () => {
  await backends.native?.close();
  await backends.wasm?.close();
});

describe.each(['native', 'wasm'] as const)('%s backend', (name) => {
  it('loads with its name and concurrency', () => {
    expect(backends[name].name).toBe(name);
    expect(backends[name].concurrency).toBe(2);
  });

  it.each([1, 6, 12])('round-trips every kind of input at level %i, in input order', async (level) => {
    const results = await backends[name].compressBatch(
      CASES.map(([, input]) => input),
      level,
    );
    expect(results).toHaveLength(CASES.length);
    CASES.forEach(([, input], index) => expectRoundTrip(input, results[index]!));
  });

  it('compresses text well and leaves random data at about its size', async () => {
    const [text, random] = await backends[name].compressBatch([TEXT, RANDOM], DEFAULT_LEVEL);
    expect(text!.compressed.length).toBeLessThan(TEXT.length / 3);
    expect(random!.compressed.length).toBeLessThan(RANDOM.length + 1000);
  });

  it('round-trips a 30 MB member cut into pieces, without blocking the event loop', async () => {
    let settled = false;
    const pending = backends[name].compressBatch([HUGE, TEXT], 1).finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(settled).toBe(false);
    const [huge, text] = await pending;
    expectRoundTrip(HUGE, huge!);
    expectRoundTrip(TEXT, text!);
  });

  it('resolves concurrent batches at different levels each with its own results', async () => {
    const inputs = [TEXT.subarray(0, 50_000), BINARY, Uint8Array.of(7), RANDOM.subarray(0, 1000)];
    const levels = [6, 1, 6, 9, 6, 1];
    const concurrent = await Promise.all(levels.map((level, index) => backends[name].compressBatch([inputs[index % inputs.length]!, TEXT.subarray(index)], level)));
    for (const [index, level] of levels.entries()) {
      const [alone] = await backends[name].compressBatch([inputs[index % inputs.length]!], level);
      expect(Buffer.from(concurrent[index]![0]!.compressed).equals(alone!.compressed)).toBe(true);
      expectRoundTrip(TEXT.subarray(index), concurrent[index]![1]!);
    }
  });

  it('gives the same bytes whatever the thread count', async () => {
    const single = name === 'native' ? createNativeBackend({ concurrency: 1 }) : await createWasmBackend({ concurrency: 1 });
    try {
      const [one] = await single.compressBatch([BINARY], DEFAULT_LEVEL);
      const [two] = await backends[name].compressBatch([BINARY], DEFAULT_LEVEL);
      expect(Buffer.from(one!.compressed).equals(two!.compressed)).toBe(true);
    } finally {
      await single.close();
    }
  });

  it('rejects levels outside 1-12 with INVALID_OPTION, and use after close', async () => {
    for (const level of [0, 13, 6.5]) {
      const error: unknown = await backends[name].compressBatch([TEXT], level).catch((caught: unknown) => caught);
      expect(isPyzError(error) && error.code).toBe('INVALID_OPTION');
    }
    const closing = name === 'native' ? createNativeBackend({ concurrency: 1 }) : await createWasmBackend({ concurrency: 1 });
    await closing.close();
    await expect(closing.compressBatch([TEXT], 6)).rejects.toThrow(/after close/);
  });
});

describe('native and WASM', () => {
  it('produce byte-identical streams at every level 1-12', async () => {
    const inputs = CASES.map(([, input]) => input);
    for (let level = 1; level <= 12; level++) {
      const [native, wasm] = await Promise.all([backends.native.compressBatch(inputs, level), backends.wasm.compressBatch(inputs, level)]);
      inputs.forEach((_, index) => {
        expect(Buffer.from(native[index]!.compressed).equals(wasm[index]!.compressed), `level ${level}, ${CASES[index]![0]}`).toBe(true);
        expect(native[index]!.crc32).toBe(wasm[index]!.crc32);
      });
    }
  });

  it('produce byte-identical streams for a 30 MB member', async () => {
    const [native] = await backends.native.compressBatch([HUGE], DEFAULT_LEVEL);
    const [wasm] = await backends.wasm.compressBatch([HUGE], DEFAULT_LEVEL);
    expect(Buffer.from(native!.compressed).equals(wasm!.compressed)).toBe(true);
  });

  it('at the default level are no larger than zlib level 6 on real files', async () => {
    // What site-packages holds: Python sources and extension modules (the stdlib's own).
    const python = readdirSync('/usr/lib').filter((name) => /^python3\.\d+$/.test(name)).sort()[0]!;
    const extensions = join('/usr/lib', python, 'lib-dynload');
    const inputs = [TEXT, ...readdirSync(extensions).sort().map((name) => readFileSync(join(extensions, name)))];
    expect(inputs.length).toBeGreaterThan(10);
    const results = await backends.native.compressBatch(inputs, DEFAULT_LEVEL);
    const ours = results.reduce((sum, result) => sum + result.compressed.length, 0);
    const zlibSix = inputs.reduce((sum, input) => sum + zlib.deflateRawSync(input, { level: 6 }).length, 0);
    expect(ours).toBeLessThanOrEqual(zlibSix);
  });
});

describe('pieces', () => {
  it('cut members at PIECE_SIZE and mark where each stream ends', () => {
    const plan = planPieces([new Uint8Array(0), new Uint8Array(PIECE_SIZE), new Uint8Array(2 * PIECE_SIZE + 1), Uint8Array.of(1)]);
    expect(plan.pieces.map((piece) => piece.length)).toEqual([0, PIECE_SIZE, PIECE_SIZE, PIECE_SIZE, 1, 1]);
    expect([...plan.endsStream]).toEqual([1, 1, 0, 0, 1, 1]);
    expect([...plan.firstPiece]).toEqual([0, 1, 2, 5, 6]);
  });

  it('combine CRC-32s exactly as node:zlib computes the whole', () => {
    const data = randomBytes(100_003);
    for (const cut of [0, 1, 7, 4096, 65_537, 100_002, 100_003]) {
      const first = data.subarray(0, cut);
      const second = data.subarray(cut);
      expect(crc32Combine(zlib.crc32(first), zlib.crc32(second), second.length)).toBe(zlib.crc32(data));
    }
    // Members past 4 GiB: (A‖B)‖C and A‖(B‖C) must agree for any CRC values, which breaks if
    // the length arithmetic is truncated to 32 bits.
    const [a, b, c, lengthB, lengthC] = [0x12345678, 0x9abcdef0, 0x0fedcba9, 2 ** 32 + 3, 2 ** 31 + 7];
    expect(crc32Combine(crc32Combine(a, b, lengthB), c, lengthC)).toBe(crc32Combine(a, crc32Combine(b, c, lengthC), lengthB + lengthC));
    expect(crc32Combine(a, b, 2 ** 32 + 3)).not.toBe(crc32Combine(a, b, 3));
  });

  it("resolve 'max' to libdeflate 12 and the default to DEFAULT_LEVEL", () => {
    expect(resolveLevel('max')).toBe(12);
    expect(resolveLevel(undefined)).toBe(DEFAULT_LEVEL);
  });
});

describe('native loading errors', () => {
  it('names the path of an addon that cannot load', () => {
    expect(() => createNativeBackend({ addonPath: '/nonexistent/pyz-native.node' })).toThrow(/\/nonexistent\/pyz-native\.node/);
  });

  it('names the path of a WASM module that cannot load', async () => {
    await expect(createWasmBackend({ wasmPath: '/nonexistent/pyz-deflate.wasm' })).rejects.toThrow(/\/nonexistent\/pyz-deflate\.wasm/);
  });
});
