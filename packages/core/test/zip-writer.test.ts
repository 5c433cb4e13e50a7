import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { crc32, deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PyzError } from '../src/errors.js';
import {
  METHOD_DEFLATED,
  METHOD_STORED,
  ZipArchive,
  ZipWriter,
  dosDateTimeFromEpochSeconds,
  epochSecondsFromDosDateTime,
  isDeflateWorthwhile,
  storedOrDeflated,
} from '../src/zip/index.js';
import { NEWEST_PYTHON, findPython, makeTemporaryDirectory, verifyArchive, verifyNestedArchive, type TemporaryDirectory } from './helpers/index.js';

const SHEBANG = Buffer.from('#!/usr/bin/env python3\n');
/** 2023-11-14T22:13:20Z: an even second, so the DOS encoding is exact. */
const EPOCH = 1_700_000_000;

let directory: TemporaryDirectory;
beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-zip-writer-');
});
afterAll(async () => {
  await directory.remove();
});

function deflatedEntry(name: string, content: Uint8Array, mode = 0o644) {
  return { name, mode, ...storedOrDeflated(content, { compressed: deflateRawSync(content), crc32: crc32(content) }) };
}

async function expectPyzError(promise: Promise<unknown>, code: string): Promise<PyzError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(PyzError);
  expect((error as PyzError).code).toBe(code);
  return error as PyzError;
}

describe('ZipWriter', () => {
  it('writes a prefixed archive that Python 3.8/3.13, unzip and 7z read without warnings', async () => {
    const target = directory.join('basic.pyz');
    const text = Buffer.from('import sys\nprint("hello from pyz")\n'.repeat(40));
    const incompressible = randomBytes(10_000);
    const writer = await ZipWriter.open(target, { prefix: SHEBANG, dosTimeEpochSeconds: EPOCH });
    await writer.addEntry(deflatedEntry('__main__.py', text));
    await writer.addEntry(deflatedEntry('bin/run', Buffer.from('#!/bin/sh\necho run\n'), 0o755));
    await writer.addEntry(deflatedEntry('empty.txt', new Uint8Array(0)));
    await writer.addEntry(deflatedEntry('pkg/données.txt', Buffer.from('ünïcödé '.repeat(30))));
    await writer.addEntry(deflatedEntry('random.bin', incompressible));
    const committed = await writer.commit();

    const bytes = await readFile(target);
    expect(committed).toEqual({ path: target, size: bytes.length });
    expect(bytes.subarray(0, SHEBANG.length).equals(SHEBANG)).toBe(true);
    expect((await stat(target)).mode & 0o7777).toBe(0o755);
    expect((await readdir(directory.path)).filter((name) => name.endsWith('.tmp'))).toEqual([]);

    const report = verifyArchive(target);
    const listing = report.entries.map((entry) => [entry.name, entry.mode.toString(8), entry.method, entry.size, entry.flags]);
    expect(listing).toEqual([
      ['__main__.py', '644', METHOD_DEFLATED, text.length, 0],
      ['bin/run', '755', METHOD_STORED, 19, 0], // 19 bytes do not shrink under deflate
      ['empty.txt', '644', METHOD_STORED, 0, 0],
      ['pkg/données.txt', '644', METHOD_DEFLATED, Buffer.byteLength('ünïcödé '.repeat(30)), 0x0800],
      ['random.bin', '644', METHOD_STORED, incompressible.length, 0],
    ]);
    for (const entry of report.entries) {
      expect(entry.fileType).toBe(0o100000); // S_IFREG
      expect(entry.createSystem).toBe(3); // Unix
      expect(entry.dateTime).toEqual([2023, 11, 14, 22, 13, 20]); // UTC fields of EPOCH
      expect(entry.flags & 0x0008).toBe(0); // never a data descriptor
    }
    expect(report.entries[0]!.headerOffset).toBe(SHEBANG.length); // offsets count from byte 0
    expect(report.entries.find((entry) => entry.name === 'random.bin')!.crc32).toBe(crc32(incompressible));
  });

  it('writes an empty archive (0 entries) that every reader accepts', async () => {
    const target = directory.join('empty.zip');
    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });
    const { size } = await writer.commit();
    expect(size).toBe(22);
    expect(verifyArchive(target).entries).toEqual([]);
    const archive = await ZipArchive.open(target);
    expect(archive.entries).toEqual([]);
    await archive.close();
  });

  it('writes an empty archive behind a prefix byte for byte as CPython does', async () => {
    // unzip and 7z refuse any empty zip behind a prefix (CPython's identical bytes too); a .pyz
    // always has __main__.py, so only Python must read this one.
    const target = directory.join('empty.pyz');
    const writer = await ZipWriter.open(target, { prefix: SHEBANG, dosTimeEpochSeconds: EPOCH });
    await writer.commit();
    const reference = directory.join('empty-cpython.pyz');
    execFileSync(findPython(NEWEST_PYTHON), ['-c', 'import sys, zipfile\nwith open(sys.argv[1], "wb") as f:\n    f.write(sys.argv[2].encode())\n    zipfile.ZipFile(f, "w").close()', reference, SHEBANG.toString()]);
    expect((await readFile(target)).equals(await readFile(reference))).toBe(true);
    expect(verifyArchive(target, { externalTools: false }).entries).toEqual([]);
  });

  it('streams entries: local headers get the real CRC and sizes; discard rewinds, even past flushed bytes', async () => {
    const target = directory.join('streaming.zip');
    const large = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefgh');
    const deflated = deflateRawSync(large);
    const incompressible = randomBytes(2 * 1024 * 1024 + 5);
    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });

    const first = await writer.startEntry({ name: 'a/deflated.txt', mode: 0o644, method: METHOD_DEFLATED });
    for (let offset = 0; offset < deflated.length; offset += 1000) await first.write(deflated.subarray(offset, offset + 1000));
    await first.end({ crc32: crc32(large), uncompressedSize: large.length });

    // Deflate does not shrink random bytes: the caller discards and rewrites the entry stored.
    const attempt = await writer.startEntry({ name: 'b/random.bin', mode: 0o600, method: METHOD_DEFLATED, maybeLarge: true });
    await attempt.write(deflateRawSync(incompressible)); // > the 1 MiB write buffer: partly in the file already
    await attempt.discard();
    await expectPyzError(attempt.write(new Uint8Array(1)), 'INTERNAL');
    const stored = await writer.startEntry({ name: 'b/random.bin', mode: 0o600, method: METHOD_STORED, maybeLarge: true });
    await stored.write(incompressible.subarray(0, 100));
    await stored.write(incompressible.subarray(100));
    await stored.end({ crc32: crc32(incompressible), uncompressedSize: incompressible.length });

    const empty = await writer.startEntry({ name: 'c/empty', mode: 0o644, method: METHOD_STORED });
    await empty.end({ crc32: 0, uncompressedSize: 0 });
    await writer.commit();

    const report = verifyArchive(target);
    expect(report.entries.map((entry) => [entry.name, entry.method, entry.size, entry.compressedSize, entry.crc32, entry.mode])).toEqual([
      ['a/deflated.txt', METHOD_DEFLATED, large.length, deflated.length, crc32(large), 0o644],
      ['b/random.bin', METHOD_STORED, incompressible.length, incompressible.length, crc32(incompressible), 0o600],
      ['c/empty', METHOD_STORED, 0, 0, 0, 0o644],
    ]);
    // The file holds exactly the three entries: nothing of the discarded attempt is left behind.
    const bytes = await readFile(target);
    const centralDirectorySize = report.entries.reduce((sum, entry) => sum + 46 + Buffer.byteLength(entry.name), 0);
    expect(bytes.length).toBe(30 + 14 + deflated.length + (30 + 12 + 20 + incompressible.length) + (30 + 7) + centralDirectorySize + 22);
    // Local headers carry real values (APPNOTE 4.3.7), not zeros plus a data descriptor.
    expect(bytes.readUInt32LE(14)).toBe(crc32(large));
    expect(bytes.readUInt32LE(18)).toBe(deflated.length);
    expect(bytes.readUInt32LE(22)).toBe(large.length);
    // maybeLarge: ZIP64 extra (ID 1) with both sizes; header fields saturated, as CPython writes it.
    const second = report.entries[1]!.headerOffset;
    expect(bytes.readUInt32LE(second + 18)).toBe(0xffffffff);
    expect(bytes.readUInt16LE(second + 28)).toBe(20);
    expect(bytes.readUInt16LE(second + 30 + 12)).toBe(0x0001);
    expect(Number(bytes.readBigUInt64LE(second + 30 + 12 + 4))).toBe(incompressible.length);
  });

  it('writes a nested archive whose offsets count from its own start, with the outer CRC over the patched bytes', async () => {
    const target = directory.join('nested.pyz');
    const big = randomBytes(1536 * 1024); // crosses the write buffer: patches land in the file, not the buffer
    const text = Buffer.from('def main():\n    return 0\n'.repeat(100));
    const writer = await ZipWriter.open(target, { prefix: SHEBANG, dosTimeEpochSeconds: EPOCH });
    await writer.addEntry(deflatedEntry('__main__.py', Buffer.from('import _pyz_bootstrap\n_pyz_bootstrap.run()\n')));
    const payload = await writer.startNestedArchive({ name: '_pyz_site_packages.zip', mode: 0o644 });
    await payload.addEntry(deflatedEntry('app/__init__.py', text));
    const streamed = await payload.startEntry({ name: 'app/big.bin', mode: 0o755, method: METHOD_DEFLATED });
    await streamed.write(deflateRawSync(big));
    await streamed.discard();
    const storedBig = await payload.startEntry({ name: 'app/big.bin', mode: 0o755, method: METHOD_STORED });
    await storedBig.write(big);
    await storedBig.end({ crc32: crc32(big), uncompressedSize: big.length });
    await payload.addEntry(deflatedEntry('app/ü.txt', Buffer.from('non-ascii')));
    await expectPyzError(writer.addEntry(deflatedEntry('x', Buffer.from('x'))), 'INTERNAL'); // the nested archive is still open
    const inner = await payload.close();
    await writer.addEntry(deflatedEntry('environment.json', Buffer.from('{"payload": "_pyz_site_packages.zip"}')));
    await writer.commit();

    const outer = verifyArchive(target);
    const payloadEntry = outer.entries.find((entry) => entry.name === '_pyz_site_packages.zip')!;
    expect(payloadEntry).toMatchObject({ method: METHOD_STORED, size: inner.size, compressedSize: inner.size, crc32: inner.crc32 });
    expect(inner.entryCount).toBe(3);
    const nested = await verifyNestedArchive(target, '_pyz_site_packages.zip', directory.join('nested-payload.zip'));
    expect(nested.entries.map((entry) => [entry.name, entry.mode, entry.crc32])).toEqual([
      ['app/__init__.py', 0o644, crc32(text)],
      ['app/big.bin', 0o755, crc32(big)],
      ['app/ü.txt', 0o644, crc32(Buffer.from('non-ascii'))],
    ]);
    expect(nested.entries[0]!.headerOffset).toBe(0);
  });

  it('keeps the nested CRC right across empty members whose buffer has no backing store', async () => {
    // For an empty buffer without backing store (TextEncoder's, a structured clone's, sometimes
    // fs.promises.readFile of an empty file), zlib.crc32(buffer, previous) returns 0 instead of
    // `previous`; the nested CRC must not go through it.
    const empty = new TextEncoder().encode('');
    const clonedEmpty = structuredClone(new Uint8Array(0));
    expect(crc32(empty, 12345)).toBe(0); // the quirk this test guards against
    const target = directory.join('nested-empty.pyz');
    const writer = await ZipWriter.open(target, { prefix: SHEBANG, dosTimeEpochSeconds: EPOCH });
    const payload = await writer.startNestedArchive({ name: 'payload.zip', mode: 0o644 });
    await payload.addEntry({ name: 'a/empty.py', mode: 0o644, method: METHOD_STORED, crc32: 0, uncompressedSize: 0, data: empty });
    const streamed = await payload.startEntry({ name: 'b/empty.bin', mode: 0o644, method: METHOD_STORED });
    await streamed.write(clonedEmpty);
    await streamed.end({ crc32: 0, uncompressedSize: 0 });
    await payload.addEntry(deflatedEntry('c/after.py', Buffer.from('after = True\n'.repeat(10))));
    const inner = await payload.close();
    await writer.commit();
    const extracted = directory.join('nested-empty-payload.zip');
    const nested = await verifyNestedArchive(target, 'payload.zip', extracted);
    expect(nested.entries.map((entry) => [entry.name, entry.size])).toEqual([
      ['a/empty.py', 0],
      ['b/empty.bin', 0],
      ['c/after.py', 130],
    ]);
    expect(inner.crc32).toBe(crc32(await readFile(extracted)));
    expect(verifyArchive(target).entries[0]!.crc32).toBe(inner.crc32);
  });

  it('refuses unsafe, out-of-order and duplicate names, and stays usable afterwards', async () => {
    const target = directory.join('names.zip');
    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });
    const data = Buffer.from('x');
    const entry = (name: string) => ({ name, mode: 0o644, method: METHOD_STORED, crc32: crc32(data), uncompressedSize: 1, data });
    for (const name of ['', '/etc/passwd', '../up', 'a/../b', 'a/./b', 'a//b', 'dir/', 'back\\slash', 'C:/x', 'nul\0byte']) {
      const error = await expectPyzError(writer.addEntry(entry(name)), 'ARCHIVE_UNSAFE_MEMBER');
      expect(error.value).toBe(name);
    }
    await expectPyzError(writer.addEntry(entry('lone\ud800surrogate')), 'FILE_NAME_NOT_ENCODABLE');
    await writer.addEntry(entry('b'));
    const duplicate = await expectPyzError(writer.addEntry(entry('b')), 'INTERNAL');
    expect(duplicate.message).toContain('duplicate');
    await expectPyzError(writer.addEntry(entry('a')), 'INTERNAL');
    await expectPyzError(writer.startEntry({ name: 'a', mode: 0o644, method: METHOD_STORED }), 'INTERNAL');
    // Byte order of UTF-8, not UTF-16 code units: U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80).
    await writer.addEntry(entry('b/\uff5e'));
    await writer.addEntry(entry('b/\u{1f600}'));
    await expectPyzError(writer.addEntry({ ...entry('c'), method: 12 as 8 }), 'INTERNAL');
    await expectPyzError(writer.addEntry({ ...entry('c'), mode: 0o10000 }), 'INVALID_OPTION');
    await expectPyzError(writer.addEntry({ ...entry('c'), uncompressedSize: 2 }), 'INTERNAL');
    await writer.addEntry(entry('c'));
    await writer.commit();
    expect(verifyArchive(target).entries.map((e) => e.name)).toEqual(['b', 'b/\uff5e', 'b/\u{1f600}', 'c']);
  });

  it('refuses calls that overlap or come after commit', async () => {
    const target = directory.join('misuse.zip');
    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });
    const data = Buffer.from('y');
    const entry = (name: string) => ({ name, mode: 0o644, method: METHOD_STORED, crc32: crc32(data), uncompressedSize: 1, data });
    const first = writer.addEntry(entry('a'));
    await expectPyzError(writer.addEntry(entry('b')), 'INTERNAL'); // not awaited: refused, not reordered
    await first;
    const open = await writer.startEntry({ name: 'c', mode: 0o644, method: METHOD_STORED });
    await expectPyzError(writer.commit(), 'INTERNAL');
    await open.write(data);
    await expectPyzError(open.end({ crc32: crc32(data), uncompressedSize: 5 }), 'INTERNAL'); // stored size must match
    await open.end({ crc32: crc32(data), uncompressedSize: 1 });
    await writer.commit();
    await expectPyzError(writer.addEntry(entry('d')), 'INTERNAL');
    expect(verifyArchive(target, { externalTools: false }).entries.map((e) => e.name)).toEqual(['a', 'c']);
  });

  it('leaves the previous file untouched and no temporary file after abort()', async () => {
    const target = directory.join('keep.pyz');
    await writeFile(target, 'previous build');
    const writer = await ZipWriter.open(target, { prefix: SHEBANG, dosTimeEpochSeconds: EPOCH });
    expect(writer.temporaryPath).toMatch(/\/\.keep\.pyz\.\d+\.[0-9a-f]+\.tmp$/);
    await writer.addEntry(deflatedEntry('a.txt', Buffer.from('new content')));
    await writer.abort();
    await writer.abort(); // idempotent
    expect(await readFile(target, 'utf8')).toBe('previous build');
    expect((await readdir(directory.path)).filter((name) => name.startsWith('.keep.pyz'))).toEqual([]);
    await expectPyzError(writer.addEntry(deflatedEntry('b.txt', Buffer.from('late'))), 'INTERNAL');
  });

  it('applies the mode option and reports unusable output paths', async () => {
    const target = directory.join('private.pyz');
    const writer = await ZipWriter.open(target, { mode: 0o700, dosTimeEpochSeconds: EPOCH });
    await writer.commit();
    expect((await stat(target)).mode & 0o7777).toBe(0o700);

    await mkdir(directory.join('a-directory.pyz'));
    await expectPyzError(ZipWriter.open(directory.join('a-directory.pyz'), { dosTimeEpochSeconds: EPOCH }), 'OUTPUT_IS_DIRECTORY');
    await expectPyzError(ZipWriter.open(directory.join('missing', 'app.pyz'), { dosTimeEpochSeconds: EPOCH }), 'OUTPUT_NOT_WRITABLE');
    await expectPyzError(ZipWriter.open(directory.join('bad-mode.pyz'), { mode: -1, dosTimeEpochSeconds: EPOCH }), 'INVALID_OPTION');
    await expectPyzError(ZipWriter.open(directory.join('bad-time.pyz'), { dosTimeEpochSeconds: Number.NaN }), 'INVALID_OPTION');
  });
});

describe('DOS timestamps', () => {
  it('encodes the UTC fields of the epoch value', () => {
    // 2023-11-14T22:13:20Z
    expect(dosDateTimeFromEpochSeconds(EPOCH)).toEqual({ date: ((2023 - 1980) << 9) | (11 << 5) | 14, time: (22 << 11) | (13 << 5) | 10 });
    expect(epochSecondsFromDosDateTime(dosDateTimeFromEpochSeconds(EPOCH))).toBe(EPOCH);
    expect(epochSecondsFromDosDateTime(dosDateTimeFromEpochSeconds(EPOCH + 1))).toBe(EPOCH); // 2-second resolution
  });

  it('clamps to 1980-01-01 .. 2107-12-31', () => {
    expect(dosDateTimeFromEpochSeconds(0)).toEqual({ date: (1 << 5) | 1, time: 0 });
    expect(epochSecondsFromDosDateTime(dosDateTimeFromEpochSeconds(-1e9))).toBe(Date.UTC(1980, 0, 1) / 1000);
    expect(epochSecondsFromDosDateTime(dosDateTimeFromEpochSeconds(1e11))).toBe(Date.UTC(2107, 11, 31, 23, 59, 58) / 1000);
  });
});

describe('stored or deflated', () => {
  it('stores what deflate does not shrink', () => {
    expect(isDeflateWorthwhile(100, 99)).toBe(true);
    expect(isDeflateWorthwhile(100, 100)).toBe(false);
    expect(isDeflateWorthwhile(0, 2)).toBe(false);
    const small = Buffer.from('ab');
    expect(storedOrDeflated(small, { compressed: deflateRawSync(small), crc32: crc32(small) })).toEqual({ method: 0, crc32: crc32(small), uncompressedSize: 2, data: small });
  });
});
