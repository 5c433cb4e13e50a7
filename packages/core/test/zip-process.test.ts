import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleForNode, makeTemporaryDirectory, verifyArchive, verifyNestedArchive, type TemporaryDirectory } from './helpers/index.js';

/**
 * A child process writing archives with ZipWriter: `build TARGET` writes a fixed archive,
 * `endless TARGET` keeps streaming one entry until it is killed.
 */
const CHILD_SOURCE = (zipModule: string): string => `
import { crc32, deflateRawSync } from 'node:zlib';
import { ZipWriter } from ${JSON.stringify(zipModule)};

const [mode, target] = process.argv.slice(2);
const entry = (name, text, mode = 0o644) => {
  const data = Buffer.from(text);
  const compressed = deflateRawSync(data, { level: 9 });
  return compressed.length < data.length
    ? { name, mode, method: 8, crc32: crc32(data), uncompressedSize: data.length, data: compressed }
    : { name, mode, method: 0, crc32: crc32(data), uncompressedSize: data.length, data };
};
const writer = await ZipWriter.open(target, { prefix: Buffer.from('#!/usr/bin/env python3\\n'), dosTimeEpochSeconds: 1700000000 });
if (mode === 'build') {
  await writer.addEntry(entry('__main__.py', 'import _pyz_bootstrap\\n_pyz_bootstrap.run()\\n'));
  const payload = await writer.startNestedArchive({ name: '_pyz_site_packages.zip', mode: 0o644 });
  await payload.addEntry(entry('app/__init__.py', 'VALUE = 1\\n'.repeat(100)));
  const streamed = await payload.startEntry({ name: 'app/data.bin', mode: 0o755, method: 0 });
  const data = Buffer.alloc(2 * 1024 * 1024, 'z');
  await streamed.write(data);
  await streamed.end({ crc32: crc32(data), uncompressedSize: data.length });
  await payload.addEntry(entry('app/ü.py', 'print("ü")\\n'));
  await payload.close();
  await writer.addEntry(entry('environment.json', JSON.stringify({ built_at: 'fixed' })));
  await writer.commit();
} else {
  const streamed = await writer.startEntry({ name: 'endless.bin', mode: 0o644, method: 0 });
  const chunk = Buffer.alloc(256 * 1024, 'e');
  for (let written = 0; ; written += chunk.length) {
    await streamed.write(chunk);
    if (written === 8 * 1024 * 1024) console.log('writing ' + writer.temporaryPath);
    if (written > 8 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
`;

let directory: TemporaryDirectory;
let child: string;
beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-zip-process-');
  const source = directory.join('child.ts');
  await writeFile(source, CHILD_SOURCE(fileURLToPath(new URL('../src/zip/index.ts', import.meta.url))));
  child = await bundleForNode(source, directory.join('child.mjs'));
});
afterAll(async () => {
  await directory.remove();
});

function buildInChild(target: string, timeZone: string): void {
  const run = spawnSync(process.execPath, [child, 'build', target], { encoding: 'utf8', env: { ...process.env, TZ: timeZone }, timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
}

async function sha256(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

describe('ZipWriter across processes', () => {
  it('writes byte-identical archives in every time zone', async () => {
    const inUtc = directory.join('utc', 'app.pyz');
    const inNewYork = directory.join('new-york', 'app.pyz');
    await Promise.all([inUtc, inNewYork].map((file) => mkdir(path.dirname(file))));
    buildInChild(inUtc, 'UTC');
    buildInChild(inNewYork, 'America/New_York');
    // The one hash assertion of the suite (STYLE: reproducibility, under two TZ values).
    expect(await sha256(inNewYork)).toBe(await sha256(inUtc));
    const report = verifyArchive(inUtc);
    expect(report.entries.map((entry) => entry.name)).toEqual(['__main__.py', '_pyz_site_packages.zip', 'environment.json']);
    expect(report.entries[0]!.dateTime).toEqual([2023, 11, 14, 22, 13, 20]);
    const payload = await verifyNestedArchive(inUtc, '_pyz_site_packages.zip', directory.join('payload.zip'));
    expect(payload.entries.map((entry) => [entry.name, entry.mode])).toEqual([
      ['app/__init__.py', 0o644],
      ['app/data.bin', 0o755],
      ['app/ü.py', 0o644],
    ]);
  });

  it('leaves the previous archive intact when the writer is killed, and the next build cleans only dead writers\' files', async () => {
    const target = directory.join('killed.pyz');
    buildInChild(target, 'UTC');
    const previous = await sha256(target);

    const writer = spawn(process.execPath, [child, 'endless', target], { stdio: ['ignore', 'pipe', 'pipe'] });
    const temporaryPath = await new Promise<string>((resolve, reject) => {
      let output = '';
      writer.stdout.on('data', (data: Buffer) => {
        output += data.toString();
        const match = /writing (\S+)/.exec(output);
        if (match) resolve(match[1]!);
      });
      writer.on('exit', (code) => reject(new Error(`writer exited early with ${code}`)));
    });
    expect((await stat(temporaryPath)).size).toBeGreaterThan(4 * 1024 * 1024); // the rest may still be in the 1 MiB write buffer
    const exited = new Promise((resolve) => writer.once('exit', (_code, signal) => resolve(signal)));
    writer.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    expect(await sha256(target)).toBe(previous);
    expect((await stat(temporaryPath)).isFile()).toBe(true); // SIGKILL leaves it behind…
    // …next to a temporary file of a writer that is still alive (this test process).
    const liveWritersFile = directory.join(`.killed.pyz.${process.pid}.0123456789ab.tmp`);
    await writeFile(liveWritersFile, 'in progress');
    const otherTargetsFile = directory.join(`.other.pyz.${writer.pid}.0123456789ab.tmp`);
    await writeFile(otherTargetsFile, 'not ours');

    buildInChild(target, 'UTC');
    expect(await sha256(target)).toBe(previous); // same inputs, same bytes
    const leftovers = (await readdir(directory.path)).filter((name) => name.endsWith('.tmp')).sort();
    expect(leftovers).toEqual([path.basename(liveWritersFile), path.basename(otherTargetsFile)].sort());
  });
});
