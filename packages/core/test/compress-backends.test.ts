import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyzError } from '../src/errors.js';
import { joinPieces, PIECE_SIZE, planPieces } from '../src/compress/pieces.js';
import type { CompressionBackend } from '../src/compress/types.js';
import { BACKEND_FACTORIES, bundleForNode, inflateCheck, makeTemporaryDirectory } from './helpers/index.js';

/** Inputs covering the edge cases: empty, one byte, text, incompressible, large and repetitive. */
function sampleInputs(): Uint8Array[] {
  return [
    new Uint8Array(0),
    Uint8Array.of(42),
    Buffer.from('def main():\n    print("hello")\n'.repeat(200)),
    randomBytes(300_000),
    Buffer.alloc(3 * 1024 * 1024, 'pyz-'),
    randomBytes(10),
  ];
}

/** Deterministic word salad: compresses differently at each level (unlike runs of one string). */
function pseudoRandomText(length: number): Buffer {
  const words = ['def', 'class', 'import', 'return', 'self', 'value', 'print', 'for', 'in', 'range', 'if', 'else', 'None', 'True', 'data', 'items'];
  let seed = 1;
  const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let text = '';
  while (text.length < length) text += words[Math.floor(next() * words.length)]! + (next() < 0.1 ? '\n' : ' ');
  return Buffer.from(text);
}

describe.each(BACKEND_FACTORIES)('compression backend $name', (factory) => {
  let backend: CompressionBackend;
  beforeAll(async () => {
    backend = await factory.create();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('identifies itself', () => {
    expect(backend.name).toBe(factory.name);
    expect(Number.isInteger(backend.concurrency) && backend.concurrency >= 1).toBe(true);
  });

  it.each([1, 6, 9, 12])('round-trips every input at level %i, with the CRC-32 of node:zlib, in input order', async (level) => {
    const inputs = sampleInputs();
    const results = await backend.compressBatch(inputs, level);
    expect(results).toHaveLength(inputs.length);
    results.forEach((result, index) => {
      inflateCheck(result.compressed, inputs[index]);
      expect(result.crc32).toBe(crc32(inputs[index]!));
    });
    // A repetitive input shrinks a lot; random bytes barely grow (stored deflate blocks).
    expect(results[4]!.compressed.length).toBeLessThan(inputs[4]!.length / 100);
    expect(results[3]!.compressed.length).toBeLessThan(inputs[3]!.length + 1000);
  });

  it('clamps levels above its maximum instead of failing', async () => {
    const input = [pseudoRandomText(200_000)];
    const [atMax] = await backend.compressBatch(input, factory.maxEffectiveLevel);
    const [above] = await backend.compressBatch(input, 12);
    expect(Buffer.from(above!.compressed).equals(Buffer.from(atMax!.compressed))).toBe(true);
    const [fastest] = await backend.compressBatch(input, 1);
    expect(Buffer.from(fastest!.compressed).equals(Buffer.from(atMax!.compressed))).toBe(false);
  });

  it('keeps the order of many small inputs and leaves the inputs intact', async () => {
    const inputs = Array.from({ length: 2000 }, (_, index) => Buffer.from(`module_${index} = ${'x'.repeat(index % 97)}\n`));
    const copies = inputs.map((input) => Buffer.from(input));
    const results = await backend.compressBatch(inputs, 6);
    results.forEach((result, index) => {
      inflateCheck(result.compressed, copies[index]);
      expect(result.crc32).toBe(crc32(copies[index]!));
    });
    inputs.forEach((input, index) => expect(input.equals(copies[index]!)).toBe(true));
    expect(await backend.compressBatch([], 6)).toEqual([]);
  });

  it('runs concurrent batches independently', async () => {
    const batches = [sampleInputs(), [Buffer.from('second batch')], sampleInputs().reverse()];
    const results = await Promise.all(batches.map((batch) => backend.compressBatch(batch, 6)));
    results.forEach((batchResults, batchIndex) => batchResults.forEach((result, index) => inflateCheck(result.compressed, batches[batchIndex]![index])));
  });

  it('compresses pieces one by one into the bytes of compressBatch (what the builder streams big members through)', async () => {
    if (backend.compressPieces === undefined) {
      // fflate cannot end a stream on a sync flush: only the pure-JS backend lacks it.
      expect(factory.name).toBe('js');
      return;
    }
    const inputs = [pseudoRandomText(3 * PIECE_SIZE + 5), new Uint8Array(0), randomBytes(PIECE_SIZE), Buffer.from('tail')];
    const plan = planPieces(inputs);
    const pieces = await backend.compressPieces(plan.pieces, plan.endsStream, 6);
    expect(pieces).toHaveLength(plan.pieces.length);
    pieces.forEach((piece, index) => expect(piece.crc32).toBe(crc32(plan.pieces[index]!)));
    const joined = joinPieces(plan, pieces);
    const whole = await backend.compressBatch(inputs, 6);
    joined.forEach((member, index) => {
      expect(Buffer.from(member.compressed).equals(Buffer.from(whole[index]!.compressed))).toBe(true);
      expect(member.crc32).toBe(crc32(inputs[index]!));
      inflateCheck(member.compressed, inputs[index]);
    });
    // Sent one at a time, as the builder does, the pieces of a member still form its stream.
    const oneByOne = [];
    for (let index = plan.firstPiece[0]!; index < plan.firstPiece[1]!; index++) {
      oneByOne.push(...(await backend.compressPieces([plan.pieces[index]!], plan.endsStream.subarray(index, index + 1), 6)));
    }
    inflateCheck(Buffer.concat(oneByOne.map((piece) => piece.compressed)), inputs[0]);
    expect(await backend.compressPieces([], new Uint8Array(0), 6)).toEqual([]);
  });

  it('reads, hashes and compresses files by path exactly as compressBatch compresses their bytes', async (context) => {
    if (backend.compressFiles === undefined) {
      // Only the pure-JS backend runs everything on the main thread; the others must offer paths.
      expect(factory.name).toBe('js');
      return;
    }
    const directory = await makeTemporaryDirectory('pyz-compress-files-');
    context.onTestFinished(() => directory.remove());
    // Over 1 MiB: cut into pieces where the file is read; 4 MiB + 1 is over the worker backends' limit.
    const contents = [...sampleInputs(), pseudoRandomText(2 * PIECE_SIZE + 17), randomBytes(PIECE_SIZE + 1), pseudoRandomText(4 * PIECE_SIZE + 1)];
    const paths = await Promise.all(contents.map(async (content, index) => {
      const file = directory.join(`file-${index}.bin`);
      await writeFile(file, content);
      return file;
    }));
    const missing = directory.join('missing.bin');
    const files = [...paths, missing].map((path, index) => ({ path, size: contents[index]?.length ?? 0 }));
    const results = await backend.compressFiles(files, 6);
    expect(results).toHaveLength(files.length);
    const limit = backend.fileLimit ?? 0;
    const byBuffer = await backend.compressBatch(contents, 6);
    contents.forEach((content, index) => {
      const result = results[index]!;
      if (content.length > limit) {
        // Reading stops past the limit: the size says "more than fileLimit".
        expect(result.kind).toBe('oversize');
        expect(result.kind === 'oversize' && result.size).toBeGreaterThan(limit);
        return;
      }
      if (result.kind !== 'deflated' && result.kind !== 'stored') throw new Error(`file ${index}: ${result.kind}`);
      expect(result.size).toBe(content.length);
      expect(result.crc32).toBe(crc32(content));
      expect(Buffer.from(result.sha256).toString('hex')).toBe(createHash('sha256').update(content).digest('hex'));
      // SPEC §4: stored exactly when deflate does not shrink it; otherwise the same stream as compressBatch.
      const deflated = byBuffer[index]!.compressed;
      if (deflated.length >= content.length) {
        expect(result.kind).toBe('stored');
        expect(Buffer.from(result.data).equals(content)).toBe(true);
      } else {
        expect(result.kind).toBe('deflated');
        expect(Buffer.from(result.data).equals(deflated)).toBe(true);
        inflateCheck(result.data, content);
      }
    });
    const failure = results.at(-1)!;
    expect(failure.kind).toBe('failed');
    expect(failure.kind === 'failed' && failure.message).toMatch(/no such file|ENOENT/i);
  });

  it('refuses to work after close()', async () => {
    const closing = await factory.create();
    await closing.compressBatch([Buffer.from('warm up')], 6);
    await closing.close();
    const error = await closing.compressBatch([Buffer.from('late')], 6).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe('BACKEND_UNAVAILABLE');
    if (closing.compressPieces !== undefined) {
      const pieceError = await closing.compressPieces([Buffer.from('late')], Uint8Array.of(1), 6).catch((caught: unknown) => caught);
      expect((pieceError as PyzError).code).toBe('BACKEND_UNAVAILABLE');
    }
  });
});

describe('zlib backend lifetime', () => {
  it('never keeps the process alive: idle workers are unref\'ed, close() ends them', async () => {
    const directory = await makeTemporaryDirectory('pyz-zlib-lifetime-');
    try {
      const source = directory.join('child.ts');
      const pool = fileURLToPath(new URL('../src/compress/zlib-pool.ts', import.meta.url));
      await writeFile(
        source,
        `import { createZlibBackend } from ${JSON.stringify(pool)};
const backend = await createZlibBackend({ concurrency: 2 });
const [result] = await backend.compressBatch([Buffer.alloc(1 << 20, 'a')], 6);
console.log('compressed', result.compressed.length);
if (process.argv[2] === 'close') await backend.close();
`,
      );
      const child = await bundleForNode(source, directory.join('child.mjs'));
      for (const mode of ['close', 'leave-open']) {
        const started = Date.now();
        const run = spawnSync(process.execPath, [child, mode], { encoding: 'utf8', timeout: 20_000 });
        expect(run.error).toBeUndefined(); // a timeout would mean a worker kept the process alive
        expect(run.status).toBe(0);
        expect(run.stdout).toMatch(/^compressed \d+/);
        expect(Date.now() - started).toBeLessThan(15_000);
      }
    } finally {
      await directory.remove();
    }
  });
});
