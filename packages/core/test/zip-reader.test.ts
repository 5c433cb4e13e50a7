import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { crc32 as zlibCrc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyzError } from '../src/errors.js';
import { METHOD_DEFLATED, METHOD_STORED, ZipArchive, ZipWriter, crc32, crc32Combine, storedOrDeflated, type ZipArchiveEntry } from '../src/zip/index.js';
import { NEWEST_PYTHON, findPython, makeTemporaryDirectory, type TemporaryDirectory } from './helpers/index.js';

const EPOCH = 1_700_000_000;
let directory: TemporaryDirectory;
/** A small archive with a prefix, deflated and stored members and a nested payload. */
let sample: Buffer;
let sampleContents: Map<string, Buffer>;

function entryOf(name: string, content: Buffer, mode = 0o644) {
  return { name, mode, ...storedOrDeflated(content, { compressed: deflateRawSync(content), crc32: zlibCrc32(content) }) };
}

beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-zip-reader-');
  sampleContents = new Map([
    ['__main__.py', Buffer.from('import _pyz_bootstrap\n'.repeat(3))],
    ['inner/a.py', Buffer.from('A = 1\n'.repeat(20))],
    ['inner/b.bin', Buffer.from('raw')],
    ['z.json', Buffer.from('{}')],
  ]);
  const target = directory.join('sample.pyz');
  const writer = await ZipWriter.open(target, { prefix: Buffer.from('#!/usr/bin/env python3\n'), dosTimeEpochSeconds: EPOCH });
  await writer.addEntry(entryOf('__main__.py', sampleContents.get('__main__.py')!));
  const nested = await writer.startNestedArchive({ name: 'payload.zip', mode: 0o644 });
  await nested.addEntry(entryOf('inner/a.py', sampleContents.get('inner/a.py')!));
  await nested.addEntry(entryOf('inner/b.bin', sampleContents.get('inner/b.bin')!, 0o755));
  await nested.close();
  await writer.addEntry(entryOf('z.json', sampleContents.get('z.json')!));
  await writer.commit();
  sample = await readFile(target);
});
afterAll(async () => {
  await directory.remove();
});

let fileCounter = 0;
async function writeTemporary(bytes: Uint8Array): Promise<string> {
  const file = directory.join(`case-${fileCounter++}.zip`);
  await writeFile(file, bytes);
  return file;
}

/** Opens and fully reads an archive (nested ones too): name → content. */
async function readEverything(file: string): Promise<Map<string, Buffer>> {
  const contents = new Map<string, Buffer>();
  const archive = await ZipArchive.open(file);
  try {
    for (const entry of archive.entries) {
      if (entry.name.endsWith('.zip')) {
        const nested = await archive.openNested(entry);
        for (const inner of nested.entries) contents.set(inner.name, Buffer.from(await nested.read(inner)));
        await nested.close();
      } else {
        contents.set(entry.name, Buffer.from(await archive.read(entry)));
      }
    }
  } finally {
    await archive.close();
  }
  return contents;
}

async function expectRejected(promise: Promise<unknown>, codes: readonly string[]): Promise<PyzError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, 'expected a PyzError').toBeInstanceOf(PyzError);
  expect(codes).toContain((error as PyzError).code);
  return error as PyzError;
}

function createWithPython(script: string, target: string): void {
  execFileSync(findPython(NEWEST_PYTHON), ['-W', 'ignore', '-c', `import sys, zipfile\n${script}`, target]);
}

describe('ZipArchive', () => {
  it('reads what ZipWriter writes, nested archives included', async () => {
    const file = await writeTemporary(sample);
    const archive = await ZipArchive.open(file);
    expect(archive.size).toBe(sample.length);
    expect(archive.entries.map((entry) => [entry.name, entry.method, entry.mode, entry.isDirectory, entry.lastModifiedEpochSeconds])).toEqual([
      ['__main__.py', METHOD_DEFLATED, 0o644, false, EPOCH],
      ['payload.zip', METHOD_STORED, 0o644, false, EPOCH],
      ['z.json', METHOD_STORED, 0o644, false, EPOCH],
    ]);
    const main = archive.getEntry('__main__.py')!;
    expect(Buffer.from(await archive.readRaw(main)).equals(deflateRawSync(sampleContents.get('__main__.py')!))).toBe(true);
    const nested = await archive.openNested(archive.getEntry('payload.zip')!);
    expect(nested.entries.map((entry) => [entry.name, entry.mode, entry.localHeaderOffset > 0 || entry.index === 0])).toEqual([
      ['inner/a.py', 0o644, true],
      ['inner/b.bin', 0o755, true],
    ]);
    const chunks: Buffer[] = [];
    for await (const chunk of archive.readRawChunks(archive.getEntry('payload.zip')!, 100)) chunks.push(Buffer.from(chunk));
    expect(Buffer.concat(chunks).length).toBe(archive.getEntry('payload.zip')!.compressedSize);
    await nested.close();
    await expectRejected(archive.openNested(main), ['ARCHIVE_INVALID']); // deflated: cannot be read in place
    await expectRejected(archive.read(nested.entries[0]!), ['INTERNAL']); // an entry of another archive
    await archive.close();
    await archive.close();
    await expectRejected(archive.read(main), ['INTERNAL']);
    expect(await readEverything(file)).toEqual(sampleContents);
  });

  it('reads archives CPython writes: comment, directory entry, forced ZIP64, CP437 names', async () => {
    const file = directory.join('cpython.zip');
    createWithPython(
      `with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.comment = b"archive comment"
    z.writestr("dir/", b"")
    z.writestr("dir/deflated.txt", b"hello " * 100)
    z.writestr(zipfile.ZipInfo("dir/stored.txt"), b"stored")
    with z.open("dir/zip64.txt", "w", force_zip64=True) as member:
        member.write(b"zip64 local header")
    z.writestr("dir/caf\\u00e9.txt", b"utf-8 name")`,
      file,
    );
    const archive = await ZipArchive.open(file);
    expect(archive.comment).toBe('archive comment');
    expect(archive.entries.map((entry) => [entry.name, entry.isDirectory])).toEqual([
      ['dir/', true],
      ['dir/deflated.txt', false],
      ['dir/stored.txt', false],
      ['dir/zip64.txt', false],
      ['dir/café.txt', false],
    ]);
    expect(Buffer.from(await archive.read(archive.getEntry('dir/deflated.txt')!)).toString()).toBe('hello '.repeat(100));
    expect(Buffer.from(await archive.read(archive.getEntry('dir/zip64.txt')!)).toString()).toBe('zip64 local header');
    await archive.close();

    // Without flag bit 11 a name is CP437 (APPNOTE appendix D): UTF-8 "é" (C3 A9) reads as "├⌐".
    const bytes = await readFile(file);
    const name = Buffer.from('dir/café.txt');
    for (let position = bytes.indexOf(name); position >= 0; position = bytes.indexOf(name, position + 1)) {
      const flagsOffset = bytes.readUInt32LE(position - 30) === 0x04034b50 ? position - 30 + 6 : position - 46 + 8;
      bytes.writeUInt16LE(bytes.readUInt16LE(flagsOffset) & ~0x0800, flagsOffset);
    }
    const cp437 = await ZipArchive.open(await writeTemporary(bytes));
    expect(cp437.entries.map((entry) => entry.name)).toContain('dir/caf├⌐.txt');
    await cp437.close();
  });

  it.each([
    ['../escape.txt', 'a ".." component'],
    ['/etc/passwd', 'an absolute path'],
    ['dir\\evil.txt', 'a backslash'],
    ['a//b', 'an empty path component'],
  ])('refuses the member name %s (%s)', async (name) => {
    const file = directory.join(`unsafe-${fileCounter++}.zip`);
    createWithPython(`with zipfile.ZipFile(sys.argv[1], "w") as z:\n    z.writestr(zipfile.ZipInfo("ok.txt"), b"ok")\n    z.writestr(zipfile.ZipInfo(${JSON.stringify(name)}), b"x")`, file);
    const error = await expectRejected(ZipArchive.open(file), ['ARCHIVE_UNSAFE_MEMBER']);
    expect(error.value).toBe(name);
  });

  it('refuses duplicate member names', async () => {
    const file = directory.join('duplicate.zip');
    createWithPython('with zipfile.ZipFile(sys.argv[1], "w") as z:\n    z.writestr("same.txt", b"1")\n    z.writestr("same.txt", b"2")', file);
    const error = await expectRejected(ZipArchive.open(file), ['ARCHIVE_UNSAFE_MEMBER']);
    expect(error.value).toBe('same.txt');
  });

  it('refuses every truncation of an archive', async () => {
    for (let length = 0; length < sample.length; length++) {
      await expectRejected(ZipArchive.open(await writeTemporary(sample.subarray(0, length))), ['ARCHIVE_INVALID']);
    }
  });

  it('turns every single-byte corruption into a PyzError or correct data, never a crash', async () => {
    let rejected = 0;
    for (let position = 0; position < sample.length; position++) {
      for (const mask of [0xff, 0x01, 0x80]) {
        const corrupt = Buffer.from(sample);
        corrupt[position]! ^= mask;
        const file = directory.join('corrupt.zip');
        await writeFile(file, corrupt);
        try {
          const contents = await readEverything(file);
          // Bytes no reader checks (times, attributes, the prefix) may change; data must not.
          expect([...contents.values()].map((content) => content.toString('hex')).sort()).toEqual([...sampleContents.values()].map((content) => content.toString('hex')).sort());
        } catch (error) {
          if (!(error instanceof PyzError)) throw new Error(`byte ${position} ^ 0x${mask.toString(16)}: ${String(error)}`);
          expect(['ARCHIVE_INVALID', 'ARCHIVE_UNSAFE_MEMBER']).toContain(error.code);
          rejected++;
        }
      }
    }
    expect(rejected).toBeGreaterThan(sample.length); // most corruptions are caught
  });

  it('refuses crafted end records without allocating or looping on their values', async () => {
    const endOffset = sample.length - 22;
    const withEnd = (patch: (bytes: Buffer) => void): Buffer => {
      const bytes = Buffer.from(sample);
      patch(bytes);
      return bytes;
    };
    const cases: [string, Buffer][] = [
      ['not a zip', randomBytes(5000)],
      ['empty file', Buffer.alloc(0)],
      ['count larger than the directory can hold', withEnd((b) => (b.writeUInt16LE(0xfffe, endOffset + 8), b.writeUInt16LE(0xfffe, endOffset + 10)))],
      ['multi-disk', withEnd((b) => b.writeUInt16LE(1, endOffset + 4))],
      ['directory offset past the end', withEnd((b) => b.writeUInt32LE(0x7fffffff, endOffset + 16))],
      ['directory size past the end', withEnd((b) => b.writeUInt32LE(0x7fffffff, endOffset + 12))],
      ['saturated fields without ZIP64 locator', withEnd((b) => b.writeUInt32LE(0xffffffff, endOffset + 16))],
      ['comment length past the end', withEnd((b) => b.writeUInt16LE(100, endOffset + 20))],
      [
        'ZIP64 locator pointing outside the file',
        Buffer.concat([sample.subarray(0, endOffset), Buffer.from('504b0607000000000000000000000001' + '01000000', 'hex'), sample.subarray(endOffset)]),
      ],
    ];
    for (const [description, bytes] of cases) {
      const error = await expectRejected(ZipArchive.open(await writeTemporary(bytes)), ['ARCHIVE_INVALID']);
      expect(error.message, description).toBeTruthy();
    }
    await expectRejected(ZipArchive.open(directory.join('does-not-exist.zip')), ['FILE_UNREADABLE']);
  });

  it('verifies sizes and CRCs when reading: a deflate bomb or a wrong CRC is an error', async () => {
    const target = directory.join('lying.zip');
    const big = Buffer.alloc(1 << 20, 'b');
    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });
    await writer.addEntry({ name: 'bomb', mode: 0o644, method: METHOD_DEFLATED, crc32: zlibCrc32(big), uncompressedSize: 10, data: deflateRawSync(big) });
    await writer.addEntry({ name: 'truncated-stream', mode: 0o644, method: METHOD_DEFLATED, crc32: zlibCrc32(big), uncompressedSize: big.length, data: deflateRawSync(big).subarray(0, 100) });
    await writer.addEntry({ name: 'wrong-crc', mode: 0o644, method: METHOD_STORED, crc32: 12345, uncompressedSize: 3, data: Buffer.from('abc') });
    await writer.commit();
    const archive = await ZipArchive.open(target);
    for (const entry of archive.entries as ZipArchiveEntry[]) {
      const error = await expectRejected(archive.read(entry), ['ARCHIVE_INVALID']);
      expect(error.value).toBe(entry.name);
    }
    await archive.close();
  });
});

describe('CRC-32', () => {
  it('matches node:zlib, continued and combined', () => {
    for (const length of [0, 1, 3, 4, 5, 1000, 65_537]) {
      const first = randomBytes(length);
      const second = randomBytes(length * 3 + 7);
      const whole = Buffer.concat([first, second]);
      expect(crc32(first)).toBe(zlibCrc32(first));
      expect(crc32(second, crc32(first))).toBe(zlibCrc32(whole));
      expect(crc32Combine(zlibCrc32(first), zlibCrc32(second), second.length)).toBe(zlibCrc32(whole));
    }
    // A second part longer than 4 GiB: 4 GiB + 1 MiB of zeros, built from 1 MiB chunks.
    const zeros = Buffer.alloc(1 << 20);
    let zerosCrc = 0;
    for (let index = 0; index < 4097; index++) zerosCrc = zlibCrc32(zeros, zerosCrc);
    let expected = zlibCrc32(Buffer.from('abc'));
    for (let index = 0; index < 4097; index++) expected = zlibCrc32(zeros, expected);
    expect(crc32Combine(zlibCrc32(Buffer.from('abc')), zerosCrc, 4097 * (1 << 20))).toBe(expected);
  });
});
