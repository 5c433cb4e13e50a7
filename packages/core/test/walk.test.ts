/**
 * Stage 1, the file list: the native addon's walk (plain trees) and the JavaScript walker
 * (everything, and the reference for links, names and errors) must list the same records, and
 * the merged list must be in UTF-8 byte order (SPEC §4).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { nativeWalk } from '../src/compress/native.js';
import { compareNames, mergeFileLists, walkTree, type FileRecord, type WalkFileSystem } from '../src/files.js';
import { makeTemporaryDirectory, type TemporaryDirectory } from './helpers/index.js';

/** The same node:fs functions under another object: walkTree then never takes the native path. */
const JAVASCRIPT_ONLY = { readdirSync: fs.readdirSync, lstatSync: fs.lstatSync, statSync: fs.statSync, realpathSync: fs.realpathSync } as unknown as WalkFileSystem;

function sortedListing(records: readonly FileRecord[]): string[] {
  return records.map((record) => JSON.stringify(record)).sort();
}

let directory: TemporaryDirectory;
beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-walk-');
});
afterAll(async () => {
  await directory.remove();
});

async function plainTree(root: string): Promise<void> {
  await mkdir(`${root}/pkg/sub/deeper`, { recursive: true });
  await mkdir(`${root}/pkg/__pycache__`, { recursive: true });
  await mkdir(`${root}/empty-dir`, { recursive: true });
  await writeFile(`${root}/pkg/__init__.py`, '');
  await writeFile(`${root}/pkg/módulo.py`, 'x = 1\n');
  await writeFile(`${root}/pkg/sub/deeper/data.bin`, Buffer.alloc(70_000, 7));
  await writeFile(`${root}/pkg/__pycache__/mod.cpython-311.pyc`, 'bytecode');
  await writeFile(`${root}/pkg/stale.pyc`, 'bytecode');
  await writeFile(`${root}/run.sh`, '#!/bin/sh\n');
  await chmod(`${root}/run.sh`, 0o755);
}

describe('walkTree', () => {
  it('lists a plain tree through the addon exactly as the JavaScript walker does', async () => {
    const root = directory.join('plain');
    await plainTree(root);
    const native = nativeWalk(root);
    expect(native, 'the addon walks plain trees').toBeDefined();
    const viaAddon = await walkTree(root, 'prefix');
    const viaJavaScript = await walkTree(root, 'prefix', JAVASCRIPT_ONLY);
    expect(sortedListing(viaAddon)).toEqual(sortedListing(viaJavaScript));
    expect(viaAddon.map((record) => record.relativePath).sort()).toEqual(['prefix/pkg/__init__.py', 'prefix/pkg/módulo.py', 'prefix/pkg/sub/deeper/data.bin', 'prefix/run.sh']);
    const script = viaAddon.find((record) => record.relativePath === 'prefix/run.sh')!;
    expect(script.mode & 0o111).not.toBe(0);
    expect(viaAddon.find((record) => record.relativePath.endsWith('data.bin'))!.size).toBe(70_000);
  });

  it('leaves trees with links and special files to the JavaScript walker, with the same result', async () => {
    const root = directory.join('linked');
    await plainTree(root);
    await symlink('pkg', `${root}/lib64`); // a link inside the tree is followed (pip and venvs make them)
    execFileSync('mkfifo', [`${root}/pkg/pipe`]); // not an application file: skipped
    expect(nativeWalk(root)).toBeUndefined();
    const listed = await walkTree(root);
    expect(sortedListing(listed)).toEqual(sortedListing(await walkTree(root, '', JAVASCRIPT_ONLY)));
    expect(listed.map((record) => record.relativePath)).toContain('lib64/sub/deeper/data.bin');
    expect(listed.map((record) => record.relativePath)).not.toContain('pkg/pipe');
  });

  it('reports a link that leaves the tree with its code, whichever walker starts', async () => {
    const root = directory.join('escaping');
    await plainTree(root);
    await symlink('/etc/hostname', `${root}/pkg/outside`);
    await expect(walkTree(root)).rejects.toMatchObject({ code: 'SYMLINK_OUTSIDE_TREE' });
  });
});

describe('mergeFileLists', () => {
  it('sorts by UTF-8 bytes, also where UTF-16 order differs, and lets later lists win', () => {
    const record = (relativePath: string, sourcePath = relativePath): FileRecord => ({ relativePath, sourcePath, mode: 0o644, size: 0 });
    // U+FF21 sorts after U+1F600 in UTF-16 (0xFF21 > 0xD83D) but before it in UTF-8 (EF BC A1 < F0 9F 98 80).
    const names = ['b.py', 'a/b.py', 'a-b.py', '\u{1F600}.txt', '\uFF21.txt', 'Z.py', 'é.py'];
    const merged = mergeFileLists([names.map((name) => record(name)), [record('b.py', 'second/b.py')]]);
    const expected = [...names].sort(compareNames);
    expect(merged.map((entry) => entry.relativePath)).toEqual(expected);
    expect(expected.indexOf('\uFF21.txt')).toBeLessThan(expected.indexOf('\u{1F600}.txt'));
    expect(merged.find((entry) => entry.relativePath === 'b.py')!.sourcePath).toBe('second/b.py');
    const ascii = mergeFileLists([['b', 'a/b', 'a-b', 'A'].map((name) => record(name))]);
    expect(ascii.map((entry) => entry.relativePath)).toEqual(['A', 'a-b', 'a/b', 'b']);
  });
});
