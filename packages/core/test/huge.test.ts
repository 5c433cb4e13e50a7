/**
 * Archives that need ZIP64 — more than 65,535 files, a member larger than 4 GiB — build and
 * start on every supported Python, including those whose zipimport has no ZIP64 (< 3.13): the
 * outer zip stays small; only the nested payload (read by the bootstrap's own reader, ZIP64 on
 * every version) is large.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPyz } from '../src/build.js';
import { PyzError } from '../src/errors.js';
import { readPyzInfo } from '../src/info.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-huge-'));
process.env.XDG_CACHE_HOME = path.join(workspace, 'cache');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

function run(python: string, pyz: string, shivRoot: string): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(python, [pyz], { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: shivRoot }, timeout: 600_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('archives that need ZIP64', () => {
  it('70,000 files: builds, pyz info lists every file, starts cold on 3.8 and warm on 3.11, 3.12, 3.13', async () => {
    const site = path.join(workspace, 'many');
    mkdirSync(path.join(site, 'app'), { recursive: true });
    writeFileSync(path.join(site, 'app', '__init__.py'), '');
    writeFileSync(path.join(site, 'app', 'main.py'), 'import os\ndef main():\n    here = os.path.join(os.path.dirname(__file__), "..", "data")\n    print(sum(len(files) for _, _, files in os.walk(here)))\n');
    for (let directory = 0; directory < 70; directory++) {
      const folder = path.join(site, 'data', `d${directory}`);
      mkdirSync(folder, { recursive: true });
      for (let file = 0; file < 1000; file++) writeFileSync(path.join(folder, `f${file}.txt`), `${directory}:${file}\n`);
    }
    const output = path.join(workspace, 'many.pyz');
    const result = await buildPyz({ output, sitePackages: [site], entryPoint: 'app.main:main', config: false });
    expect(result.files).toBe(70_002);
    const info = await readPyzInfo(output, { listFiles: true });
    expect(info.files!.length).toBe(70_002);
    expect(info.archiveEntries.length).toBeLessThan(20);
    const shivRoot = path.join(workspace, 'root-many');
    for (const python of ['python3.8', 'python3.11', 'python3.12', 'python3.13']) {
      const ran = run(python, output, shivRoot);
      expect(ran.stderr, python).toBe('');
      expect(ran.stdout, python).toBe('70000\n');
    }
  }, 600_000);

  it('a member larger than 4 GiB: builds and starts on 3.8 (cold), 3.11, 3.12 and 3.13', async () => {
    const site = path.join(workspace, 'big');
    mkdirSync(path.join(site, 'app'), { recursive: true });
    writeFileSync(path.join(site, 'app', '__init__.py'), '');
    writeFileSync(path.join(site, 'app', 'main.py'), 'import os\ndef main():\n    big = os.path.join(os.path.dirname(__file__), "big.bin")\n    with open(big, "rb") as f:\n        f.seek(-5, 2)\n        print(os.path.getsize(big), f.read())\n');
    // Sparse: 4 GiB + 1 MiB of zeros ending in "tail!", created instantly.
    const big = path.join(site, 'app', 'big.bin');
    const size = 4 * 1024 ** 3 + 1024 ** 2;
    const descriptor = openSync(big, 'w');
    ftruncateSync(descriptor, size - 5);
    writeSync(descriptor, Buffer.from('tail!'), 0, 5, size - 5);
    closeSync(descriptor);
    const output = path.join(workspace, 'big.pyz');
    const result = await buildPyz({ output, sitePackages: [site], entryPoint: 'app.main:main', config: false, level: 1 });
    expect(result.payloadBytes).toBeGreaterThan(4 * 1024 ** 3);
    rmSync(big);
    const info = await readPyzInfo(output, { listFiles: true });
    expect(info.files!.find((file) => file.path === 'app/big.bin')!.size).toBe(size);
    const shivRoot = path.join(workspace, 'root-big');
    for (const python of ['python3.8', 'python3.11', 'python3.12', 'python3.13']) {
      const ran = run(python, output, shivRoot);
      expect(ran.stderr, python).toBe('');
      expect(ran.stdout, python).toBe(`${size} b'tail!'\n`);
    }
    rmSync(shivRoot, { recursive: true, force: true });
  }, 900_000);

  it('a payload that stays ≥ 4 GiB after compression is refused (FILE_TOO_LARGE) unless the target is Python 3.13+, writing nothing', async () => {
    const site = path.join(workspace, 'stored');
    mkdirSync(path.join(site, 'app'), { recursive: true });
    writeFileSync(path.join(site, 'app', '__init__.py'), '');
    const big = path.join(site, 'app', 'big.bin');
    const descriptor = openSync(big, 'w');
    ftruncateSync(descriptor, 4 * 1024 ** 3 + 1024 ** 2);
    closeSync(descriptor);
    const output = path.join(workspace, 'stored.pyz');
    writeFileSync(output, 'previous');
    const error = await buildPyz({ output, sitePackages: [site], config: false, compressed: false, incremental: false }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe('FILE_TOO_LARGE');
    expect((error as PyzError).message).toContain('Python 3.13');
    expect(readFileSync(output, 'utf8')).toBe('previous');
    expect(readdirSync(workspace).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    rmSync(big);
  }, 900_000);
});

