/**
 * Incremental rebuilds reuse unchanged entries raw and must produce exactly the archive a full
 * build would; anything suspicious falls back to a full build with a warning.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync, writeSync, closeSync, statSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { buildPyz, type BuildResult } from '../src/build.js';
import type { BuildOptions } from '../src/options.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-incremental-'));
process.env.XDG_CACHE_HOME = path.join(workspace, 'cache');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

let site: string;
let warnings: string[];
const log = { info() {}, warn: (message: string) => warnings.push(message) };

function makeTree(): string {
  const root = mkdtempSync(path.join(workspace, 'site-'));
  mkdirSync(path.join(root, 'app'), { recursive: true });
  writeFileSync(path.join(root, 'app', '__init__.py'), '');
  writeFileSync(path.join(root, 'app', 'main.py'), 'def main():\n    print("v1")\n');
  for (let index = 0; index < 40; index++) {
    mkdirSync(path.join(root, `dep${index % 4}`), { recursive: true });
    writeFileSync(path.join(root, `dep${index % 4}`, `module${index}.py`), `# dependency ${index}\n${'VALUE = "x" * 100\n'.repeat(50 + index)}`);
  }
  return root;
}

async function build(name: string, options: Partial<BuildOptions> = {}): Promise<BuildResult> {
  return buildPyz({ sitePackages: [site], entryPoint: 'app.main:main', output: path.join(workspace, 'out', name), config: false, backend: 'zlib', reproducible: true, log, ...options } as BuildOptions);
}

/** The archive a from-scratch build gives for the current inputs. */
async function fullBuildHash(options: Partial<BuildOptions> = {}): Promise<string> {
  return (await build(`full-${Math.random().toString(36).slice(2)}.pyz`, { incremental: false, ...options })).sha256;
}

function run(pyz: string): string {
  return spawnSync('python3', [pyz], { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: path.join(workspace, 'shiv') } }).stdout;
}

beforeEach(() => {
  site = makeTree();
  warnings = [];
});

describe('incremental rebuilds', () => {
  it('an unchanged rebuild copies every entry raw and is byte-identical', async () => {
    const first = await build('same.pyz');
    expect(first.reusedEntries).toBe(0);
    const second = await build('same.pyz');
    expect(second.reusedEntries).toBe(first.files);
    expect(second.sha256).toBe(first.sha256);
    expect(warnings).toEqual([]);
  });

  it('a one-file change recompresses only that file and matches a full build', async () => {
    const first = await build('one.pyz');
    writeFileSync(path.join(site, 'app', 'main.py'), 'def main():\n    print("v2")\n');
    const second = await build('one.pyz');
    expect(second.reusedEntries).toBe(first.files - 1);
    expect(second.sha256).toBe(await fullBuildHash());
    expect(second.buildId).not.toBe(first.buildId);
    expect(run(second.outputPath)).toBe('v2\n');
  });

  it('added, removed and re-moded files are picked up', async () => {
    const first = await build('tree.pyz');
    writeFileSync(path.join(site, 'dep0', 'added.py'), 'ADDED = 1\n');
    unlinkSync(path.join(site, 'dep1', 'module1.py'));
    chmodSync(path.join(site, 'dep2', 'module2.py'), 0o755);
    const second = await build('tree.pyz');
    expect(second.files).toBe(first.files);
    expect(second.reusedEntries).toBe(first.files - 2);
    expect(second.sha256).toBe(await fullBuildHash());
  });

  it('a level change reuses no compressed bytes and matches a full build at that level', async () => {
    await build('level.pyz');
    const second = await build('level.pyz', { level: 9 });
    expect(second.reusedEntries).toBe(0);
    expect(second.sha256).toBe(await fullBuildHash({ level: 9 }));
  });

  it('an option change (entry point) still gives the full-build archive', async () => {
    await build('option.pyz');
    const second = await build('option.pyz', { entryPoint: 'app.main' });
    expect(second.sha256).toBe(await fullBuildHash({ entryPoint: 'app.main' }));
  });

  it.each([
    ['a flipped byte inside the previous archive', (file: string) => {
      const descriptor = openSync(file, 'r+');
      const size = statSync(file).size;
      writeSync(descriptor, Buffer.from([0x5a]), 0, 1, Math.floor(size / 2));
      closeSync(descriptor);
    }],
    ['a truncated previous archive', (file: string) => truncateSync(file, Math.floor(statSync(file).size / 3))],
    ['bytes appended to the previous archive', (file: string) => appendFileSync(file, 'garbage')],
  ])('%s: full build with a warning, never a wrong archive', async (_label, damage) => {
    const first = await build('damaged.pyz');
    damage(first.outputPath);
    writeFileSync(path.join(site, 'app', 'main.py'), 'def main():\n    print("v3")\n');
    const second = await build('damaged.pyz');
    expect(second.reusedEntries).toBe(0);
    expect(warnings.join('\n')).toMatch(/cannot be reused/);
    expect(second.sha256).toBe(await fullBuildHash());
    expect(run(second.outputPath)).toBe('v3\n');
  });

  it('a corrupt build index: full build with a warning', async () => {
    await build('index.pyz');
    const indexDirectory = path.join(workspace, 'cache', 'pyz', 'index');
    for (const name of readdirSync(indexDirectory)) writeFileSync(path.join(indexDirectory, name), '{not json');
    const second = await build('index.pyz');
    expect(second.reusedEntries).toBe(0);
    expect(warnings.join('\n')).toMatch(/index .* is unreadable/);
    expect(second.sha256).toBe(await fullBuildHash());
    expect(readFileSync(second.outputPath).length).toBe(second.size);
  });
});
