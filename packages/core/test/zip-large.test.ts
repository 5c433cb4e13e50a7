import { readFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METHOD_STORED, ZipArchive, ZipWriter } from '../src/zip/index.js';
import { NEWEST_PYTHON, OLDEST_PYTHON, findPython, makeTemporaryDirectory, pythonZipCheck, unzipProblems, unzipTest, verifyArchive, type TemporaryDirectory } from './helpers/index.js';

const EPOCH = 1_700_000_000;
const FOUR_GIB = 2 ** 32;

let directory: TemporaryDirectory;
beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-zip-large-');
});
afterAll(async () => {
  await directory.remove();
});

describe('ZIP64', () => {
  it('writes more than 65,535 entries with a ZIP64 end record that every reader accepts', async () => {
    const target = directory.join('many.zip');
    const count = 65_537;
    const writer = await ZipWriter.open(target, { prefix: Buffer.from('#!/usr/bin/env python3\n'), dosTimeEpochSeconds: EPOCH });
    for (let index = 0; index < count; index++) {
      const data = Buffer.from(String(index));
      await writer.addEntry({ name: `f/${String(index).padStart(6, '0')}`, mode: 0o644, method: METHOD_STORED, crc32: crc32(data), uncompressedSize: data.length, data });
    }
    await writer.commit();

    // ZIP64 end record + locator precede the classic end record, whose count is saturated.
    const bytes = await readFile(target);
    const end = bytes.length - 22;
    expect(bytes.readUInt32LE(end)).toBe(0x06054b50);
    expect(bytes.readUInt16LE(end + 10)).toBe(0xffff);
    expect(bytes.readUInt32LE(end - 20)).toBe(0x07064b50);
    expect(bytes.readUInt32LE(end - 20 - 56)).toBe(0x06064b50);
    expect(Number(bytes.readBigUInt64LE(end - 20 - 56 + 32))).toBe(count);

    const report = verifyArchive(target);
    expect(report.entries).toHaveLength(count);
    expect(report.entries[count - 1]).toMatchObject({ name: 'f/065536', size: 5, crc32: crc32(Buffer.from('65536')) });

    const archive = await ZipArchive.open(target);
    expect(archive.entries).toHaveLength(count);
    expect(Buffer.from(await archive.read(archive.getEntry('f/065536')!)).toString()).toBe('65536');
    await archive.close();
  });

  it('writes a member larger than 4 GiB (ZIP64 sizes, offsets and end record) that Python and unzip read', async () => {
    const target = directory.join('huge.zip');
    const chunk = new Uint8Array(8 * 1024 * 1024);
    const chunkCount = FOUR_GIB / chunk.length + 1; // 4 GiB + 8 MiB of zeros
    const size = chunkCount * chunk.length;
    let checksum = 0;
    for (let index = 0; index < chunkCount; index++) checksum = crc32(chunk, checksum);

    const writer = await ZipWriter.open(target, { dosTimeEpochSeconds: EPOCH });
    await writer.addEntry({ name: 'a-first.txt', mode: 0o644, method: METHOD_STORED, crc32: crc32(Buffer.from('first')), uncompressedSize: 5, data: Buffer.from('first') });
    const huge = await writer.startEntry({ name: 'b-huge.bin', mode: 0o644, method: METHOD_STORED, maybeLarge: true });
    for (let index = 0; index < chunkCount; index++) await huge.write(chunk);
    await huge.end({ crc32: checksum, uncompressedSize: size });
    // After the huge member: its local header offset, and the central directory's, exceed 4 GiB.
    await writer.addEntry({ name: 'c-after.txt', mode: 0o755, method: METHOD_STORED, crc32: crc32(Buffer.from('after')), uncompressedSize: 5, data: Buffer.from('after') });
    await writer.commit();

    for (const version of [OLDEST_PYTHON, NEWEST_PYTHON]) {
      const report = pythonZipCheck(target, findPython(version), { checkData: false });
      expect(report.entries.map((entry) => [entry.name, entry.size, entry.compressedSize, entry.crc32, entry.mode])).toEqual([
        ['a-first.txt', 5, 5, crc32(Buffer.from('first')), 0o644],
        ['b-huge.bin', size, size, checksum, 0o644],
        ['c-after.txt', 5, 5, crc32(Buffer.from('after')), 0o755],
      ]);
      expect(report.entries[2]!.headerOffset).toBeGreaterThan(FOUR_GIB);
    }
    // unzip reads all 4 GiB and checks the CRC of every member (a few seconds from the page cache).
    const unzip = unzipTest(target);
    expect(unzipProblems(unzip.output)).toEqual([]);
    expect(unzip.status).toBe(0);

    const archive = await ZipArchive.open(target);
    expect(archive.entries.map((entry) => [entry.name, entry.uncompressedSize])).toEqual([
      ['a-first.txt', 5],
      ['b-huge.bin', size],
      ['c-after.txt', 5],
    ]);
    expect(Buffer.from(await archive.read(archive.getEntry('c-after.txt')!)).toString()).toBe('after');
    let chunks = 0;
    for await (const piece of archive.readRawChunks(archive.getEntry('b-huge.bin')!, 64 * 1024 * 1024)) {
      if (chunks++ === 0) expect(piece.length).toBe(64 * 1024 * 1024);
      else break;
    }
    await archive.close();
  });
});
