/**
 * End-to-end builds with real Python: archives are read back by Python's zipfile (outer and
 * nested payload), `unzip -t`, and run on the oldest and newest supported Python.
 */
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPyz, type BuildResult } from '../src/build.js';
import { PyzError } from '../src/errors.js';
import { readPyzInfo } from '../src/info.js';
import type { BuildOptions } from '../src/options.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-build-'));
const shivRoot = path.join(workspace, 'shiv-root');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** A small app tree: a package with data files, a console script and an exec-bit file. */
function makeAppTree(root: string, message = 'hello from app'): string {
  const site = path.join(root, 'site');
  mkdirSync(path.join(site, 'app', 'data'), { recursive: true });
  mkdirSync(path.join(site, 'app-1.0.dist-info'), { recursive: true });
  writeFileSync(path.join(site, 'app', '__init__.py'), '');
  writeFileSync(
    path.join(site, 'app', 'main.py'),
    [
      'import sys, os',
      'def main():',
      `    print(${JSON.stringify(message)}, sys.argv[1:])`,
      '    return int(os.environ.get("APP_EXIT", "0"))',
      'def data():',
      '    import importlib.resources',
      '    here = os.path.join(os.path.dirname(__file__), "data", "greeting.txt")',
      '    via_file = open(here).read().strip()',
      '    via_resources = importlib.resources.read_text("app.data", "greeting.txt").strip()',
      '    print(via_file, via_resources)',
      '',
    ].join('\n'),
  );
  writeFileSync(path.join(site, 'app', 'data', '__init__.py'), '');
  writeFileSync(path.join(site, 'app', 'data', 'greeting.txt'), 'grüße\n');
  writeFileSync(path.join(site, 'app', 'tool.sh'), '#!/bin/sh\necho tool\n');
  chmodSync(path.join(site, 'app', 'tool.sh'), 0o755);
  writeFileSync(path.join(site, 'app-1.0.dist-info', 'entry_points.txt'), '[console_scripts]\napp-cli = app.main:main\napp-data = app.main:data\n');
  writeFileSync(path.join(site, 'app-1.0.dist-info', 'METADATA'), 'Metadata-Version: 2.1\nName: app\nVersion: 1.0\n');
  writeFileSync(path.join(site, 'app', '__pycache__.pyc'), 'never packed');
  return site;
}

function run(pyz: string, args: string[] = [], env: Record<string, string> = {}, python?: string): { status: number | null; stdout: string; stderr: string } {
  const command = python ?? pyz;
  const argv = python ? [pyz, ...args] : args;
  const result = spawnSync(command, argv, { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: shivRoot, ...env }, timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** sha256 of payload members, read back with Python's zipfile: argv = pyz, member names. */
const PAYLOAD_DIGESTS_SCRIPT = `
import hashlib, io, json, sys, zipfile
outer = zipfile.ZipFile(sys.argv[1])
payload = zipfile.ZipFile(io.BytesIO(outer.read(json.loads(outer.read("environment.json"))["payload"])))
print(json.dumps({name: hashlib.sha256(payload.read(name)).hexdigest() for name in sys.argv[2:]}))
`;

/** Python's zipfile reads the outer archive and the nested payload; prints a JSON listing. */
function pythonListing(pyz: string, python = 'python3'): { outer: [string, number, number][]; payload: [string, number, number, number][]; testzip: [string | null, string | null] } {
  const script = `
import io, json, sys, zipfile
outer = zipfile.ZipFile(sys.argv[1])
bad_outer = outer.testzip()
env = json.loads(outer.read("environment.json"))
payload = zipfile.ZipFile(io.BytesIO(outer.read(env["payload"])))
print(json.dumps({
  "outer": [[i.filename, i.external_attr >> 16, i.compress_type] for i in outer.infolist()],
  "payload": [[i.filename, i.external_attr >> 16, i.compress_type, i.file_size] for i in payload.infolist()],
  "testzip": [bad_outer, payload.testzip()],
}))
`;
  return JSON.parse(execFileSync(python, ['-c', script, pyz], { encoding: 'utf8' }));
}

async function build(options: Partial<BuildOptions>): Promise<BuildResult> {
  return buildPyz({ config: false, backend: 'zlib', ...options } as BuildOptions);
}

let site: string;
let appPyz: string;
let appResult: BuildResult;

beforeAll(async () => {
  site = makeAppTree(path.join(workspace, 'tree'));
  appPyz = path.join(workspace, 'out', 'app.pyz');
  appResult = await build({ sitePackages: [site], entryPoint: 'app.main:main', output: appPyz });
});

describe('a pure-Python app', () => {
  it('is a valid zip for Python zipfile and unzip -t, with the documented layout', () => {
    const listing = pythonListing(appPyz);
    expect(listing.testzip).toEqual([null, null]);
    const outerNames = listing.outer.map(([name]) => name);
    expect(outerNames[0]).toBe('__main__.py');
    expect(outerNames.at(-1)).toBe('environment.json');
    expect(outerNames).toContain('_pyz_site_packages.zip');
    expect(outerNames).toEqual([...outerNames].sort());
    const payloadNames = listing.payload.map(([name]) => name);
    expect(payloadNames).toEqual(['app-1.0.dist-info/METADATA', 'app-1.0.dist-info/entry_points.txt', 'app/__init__.py', 'app/__pycache__.pyc', 'app/data/__init__.py', 'app/data/greeting.txt', 'app/main.py', 'app/tool.sh'].filter((name) => !name.endsWith('.pyc')));
    expect(listing.payload.find(([name]) => name === 'app/tool.sh')![1] & 0o777).toBe(0o755);
    expect(listing.payload.find(([name]) => name === 'app/main.py')![1] & 0o777).toBe(0o644);
    const unzip = spawnSync('unzip', ['-t', appPyz], { encoding: 'utf8' });
    expect(unzip.status).toBe(0);
    expect(`${unzip.stdout}${unzip.stderr}`).not.toMatch(/extra bytes|warning/i);
    expect(readFileSync(appPyz).subarray(0, 24).toString()).toBe('#!/usr/bin/env python3\n' + 'P');
    expect(statSync(appPyz).mode & 0o777).toBe(0o755);
  });

  it.each(['python3.8', 'python3.9', 'python3.10', 'python3.11', 'python3.12', 'python3.13'])('runs on %s with its arguments and exit status', (python) => {
    const result = run(appPyz, ['a', 'b'], { APP_EXIT: '3' }, python);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe("hello from app ['a', 'b']\n");
    expect(result.status).toBe(3);
  });

  it('runs directly through its shebang', () => {
    const result = run(appPyz, ['x']);
    expect(result.stdout).toBe("hello from app ['x']\n");
    expect(result.status).toBe(0);
  });

  it('reads package data through __file__ and importlib.resources', () => {
    const result = run(appPyz, [], { SHIV_ENTRY_POINT: 'app.main:data' });
    expect(result.stdout).toBe('grüße grüße\n');
  });

  it('writes shiv\'s environment.json keys, readable by pyz info', async () => {
    const info = await readPyzInfo(appPyz, { listFiles: true });
    for (const key of ['shiv_version', 'always_write_cache', 'build_id', 'built_at', 'hashes', 'no_modify', 'reproducible', 'preamble', 'entry_point', 'compile_pyc', 'extend_pythonpath', 'prepend_pythonpath', 'root', 'script']) {
      expect(info.environment).toHaveProperty(key);
    }
    expect(info.environment.entry_point).toBe('app.main:main');
    expect(info.environment.build_id).toBe(appResult.buildId);
    expect(info.files!.map((file) => file.path)).toContain('app/main.py');
    expect(info.files!.length).toBe(appResult.files);
  });
});

describe('console scripts', () => {
  it('-c resolves through entry_points.txt and runs with its arguments; sys.argv[0] is the archive', async () => {
    const output = path.join(workspace, 'out', 'cli.pyz');
    await build({ sitePackages: [site], consoleScript: 'app-cli', output });
    const result = run(output, ['--flag']);
    expect(result.stdout).toBe("hello from app ['--flag']\n");
    expect(result.status).toBe(0);
  });

  it('an unknown console script is refused at build time, listing the ones that exist', async () => {
    const output = path.join(workspace, 'out', 'missing.pyz');
    const error = await build({ sitePackages: [site], consoleScript: 'nope', output }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe('CONSOLE_SCRIPT_NOT_FOUND');
    expect((error as PyzError).message).toContain('app-cli');
    expect(existsSync(output)).toBe(false);
  });
});

describe('build id and reproducibility', () => {
  it('same inputs give the same build id; a changed byte changes it', async () => {
    const again = await build({ sitePackages: [site], entryPoint: 'app.main:main', output: path.join(workspace, 'out', 'again.pyz') });
    expect(again.buildId).toBe(appResult.buildId);
    const other = makeAppTree(path.join(workspace, 'tree2'), 'hello from app!');
    const changed = await build({ sitePackages: [other], entryPoint: 'app.main:main', output: path.join(workspace, 'out', 'changed.pyz') });
    expect(changed.buildId).not.toBe(appResult.buildId);
  });

  it('is byte-identical under TZ=UTC and TZ=America/New_York with SOURCE_DATE_EPOCH', () => {
    const cli = path.resolve(__dirname, '../dist/bin.js');
    expect(existsSync(cli), 'run npm run build first').toBe(true);
    const hashes = ['UTC', 'America/New_York'].map((zone) => {
      const output = path.join(workspace, 'out', `tz-${zone.replace('/', '-')}.pyz`);
      execFileSync(process.execPath, [cli, 'build', '--site-packages', site, '-e', 'app.main:main', '-o', output, '--reproducible', '--backend', 'zlib', '-q'], {
        env: { ...process.env, TZ: zone, SOURCE_DATE_EPOCH: '1700000000' },
        cwd: workspace,
      });
      return execFileSync('sha256sum', [output], { encoding: 'utf8' }).split(' ')[0];
    });
    expect(hashes[0]).toBe(hashes[1]);
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('bad input writes nothing', () => {
  it.each([
    ['ENTRY_POINT_NOT_FOUND', { entryPoint: 'nothere.main:main' }],
    ['ENTRY_POINT_INVALID', { entryPoint: 'app/main.py' }],
    ['SHEBANG_TOO_LONG', { entryPoint: 'app.main:main', python: `/${'p'.repeat(140)}` }],
    ['PIP_ARGUMENT_REFUSED', { entryPoint: 'app.main:main', pipArgs: ['--target=/tmp/x', 'flask'] }],
    ['SITE_PACKAGES_NOT_FOUND', { entryPoint: 'app.main:main', sitePackages: ['/nonexistent/site'] }],
  ] as [string, Partial<BuildOptions>][])('%s', async (code, options) => {
    const output = path.join(workspace, 'bad', `${code}.pyz`);
    mkdirSync(path.dirname(output), { recursive: true });
    writeFileSync(output, 'previous');
    const error = await build({ sitePackages: [site], output, ...options }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe(code);
    expect((error as PyzError).message).toContain('fix:');
    expect(readFileSync(output, 'utf8')).toBe('previous');
  });

  it('a dangling symlink and a symlink loop are refused with their path', async () => {
    const tree = path.join(workspace, 'links');
    mkdirSync(path.join(tree, 'pkg'), { recursive: true });
    writeFileSync(path.join(tree, 'pkg', '__init__.py'), '');
    const { symlinkSync } = await import('node:fs');
    symlinkSync('missing.py', path.join(tree, 'pkg', 'dangling.py'));
    const output = path.join(workspace, 'bad', 'links.pyz');
    let error = (await build({ sitePackages: [tree], output }).catch((caught: unknown) => caught)) as PyzError;
    expect(error.code).toBe('SYMLINK_DANGLING');
    expect(error.message).toContain('dangling.py');
    rmSync(path.join(tree, 'pkg', 'dangling.py'));
    symlinkSync('loop-b', path.join(tree, 'pkg', 'loop-a'));
    symlinkSync('loop-a', path.join(tree, 'pkg', 'loop-b'));
    error = (await build({ sitePackages: [tree], output }).catch((caught: unknown) => caught)) as PyzError;
    expect(error.code).toBe('SYMLINK_LOOP');
    expect(existsSync(output)).toBe(false);
  });

  it('a pip failure carries pip\'s output', async () => {
    const output = path.join(workspace, 'bad', 'pip.pyz');
    const error = (await build({ pipArgs: ['this-package-does-not-exist-pyz==0.0.1'], output, pipCache: false }).catch((caught: unknown) => caught)) as PyzError;
    expect(error.code).toBe('PIP_FAILED');
    expect(error.message).toMatch(/No matching distribution|Could not find a version/);
    expect(existsSync(output)).toBe(false);
  });
});

describe('every compression backend', () => {
  it('gives archives with identical listings; native and WASM are byte-identical; each runs', async () => {
    const { randomBytes } = await import('node:crypto');
    const tree = makeAppTree(path.join(workspace, 'backends'));
    // A member several 1 MiB pieces long, half compressible, exercises the parallel split.
    // Both are over 4 MiB, so the backends that compress pieces stream them piece by piece; the
    // second does not shrink, so its deflated form is dropped and it is written again stored.
    const blob = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(3 << 20, 'pyz ')]);
    const noise = randomBytes((5 << 20) + 3);
    writeFileSync(path.join(tree, 'app', 'blob.bin'), blob);
    writeFileSync(path.join(tree, 'app', 'noise.bin'), noise);
    const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
    const memberDigests = (pyz: string): Record<string, string> =>
      JSON.parse(
        execFileSync('python3', ['-c', PAYLOAD_DIGESTS_SCRIPT, pyz, 'app/blob.bin', 'app/noise.bin'], { encoding: 'utf8' }),
      ) as Record<string, string>;
    const results = new Map<string, { sha256: string; listing: ReturnType<typeof pythonListing> }>();
    for (const backend of ['native', 'wasm', 'zlib', 'js'] as const) {
      const output = path.join(workspace, 'out', `backend-${backend}.pyz`);
      const result = await buildPyz({ config: false, backend, sitePackages: [tree], entryPoint: 'app.main:main', output, reproducible: true, incremental: false });
      expect(result.backend).toBe(backend);
      const listing = pythonListing(output);
      expect(listing.testzip).toEqual([null, null]);
      expect(run(output, ['b']).stdout).toBe(`hello from app ['b']\n`);
      const methods = Object.fromEntries(listing.payload.map(([name, , method]) => [name, method]));
      expect([methods['app/blob.bin'], methods['app/noise.bin']], backend).toEqual([8, 0]);
      expect(memberDigests(output), backend).toEqual({ 'app/blob.bin': sha256(blob), 'app/noise.bin': sha256(noise) });
      results.set(backend, { sha256: result.sha256, listing });
    }
    // --uncompressed: every member stored, the big ones copied through in chunks.
    const output = path.join(workspace, 'out', 'backend-none.pyz');
    const stored = await buildPyz({ config: false, compressed: false, sitePackages: [tree], entryPoint: 'app.main:main', output, reproducible: true, incremental: false });
    expect(stored.backend).toBe('none');
    const storedListing = pythonListing(output);
    expect(storedListing.testzip).toEqual([null, null]);
    expect(new Set(storedListing.payload.map(([, , method]) => method))).toEqual(new Set([0]));
    expect(memberDigests(output)).toEqual({ 'app/blob.bin': sha256(blob), 'app/noise.bin': sha256(noise) });
    expect(run(output, ['b']).stdout).toBe(`hello from app ['b']\n`);
    expect(results.get('native')!.sha256).toBe(results.get('wasm')!.sha256);
    const reference = results.get('native')!.listing.payload.map(([name, mode, , size]) => [name, mode, size]);
    for (const backend of ['wasm', 'zlib', 'js']) {
      expect(results.get(backend)!.listing.payload.map(([name, mode, , size]) => [name, mode, size]), backend).toEqual(reference);
    }
  });
});
