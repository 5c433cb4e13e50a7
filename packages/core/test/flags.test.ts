/**
 * Each shiv build flag, end to end: built with the CLI, checked in environment.json, and its
 * effect observed by running the archive.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPyzInfo } from '../src/info.js';

const cli = path.resolve(__dirname, '../dist/bin.js');
const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-flags-'));
const site = path.join(workspace, 'site');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

beforeAll(() => {
  mkdirSync(path.join(site, 'app'), { recursive: true });
  writeFileSync(path.join(site, 'app', '__init__.py'), '');
  writeFileSync(
    path.join(site, 'app', 'main.py'),
    'import os, subprocess, sys\ndef main():\n    print("main", *sys.argv[1:])\ndef child():\n    # a subprocess sees the bundled packages only through PYTHONPATH\n    return subprocess.call([sys.executable, "-c", "import app.main; print(\'child ok\')"])\n',
  );
  writeFileSync(path.join(workspace, 'setup_env.py'), 'print("preamble ran", os.path.basename(archive), site_packages.name)\n'.replace('print', 'import os\nprint'));
  writeFileSync(path.join(workspace, 'failing.sh'), '#!/bin/sh\necho "preamble failing" >&2\nexit 7\n', { mode: 0o755 });
});

function build(name: string, flags: string[]): string {
  const output = path.join(workspace, 'out', `${name}.pyz`);
  const result = spawnSync(process.execPath, [cli, 'build', '--site-packages', site, '-o', output, '--backend', 'zlib', '-q', ...flags], { encoding: 'utf8', cwd: workspace });
  expect(result.status, result.stderr).toBe(0);
  return output;
}

function run(pyz: string, env: Record<string, string> = {}, args: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync('python3', [pyz, ...args], { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: path.join(workspace, 'root'), ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

async function environmentOf(pyz: string): Promise<Record<string, unknown>> {
  return (await readPyzInfo(pyz)).environment;
}

describe('shiv build flags', () => {
  it('-e/--entry-point: called with the arguments', async () => {
    const pyz = build('entry', ['--entry-point', 'app.main:main']);
    expect((await environmentOf(pyz)).entry_point).toBe('app.main:main');
    expect(run(pyz, {}, ['x']).stdout).toBe('main x\n');
  });

  it('-p/--python: the shebang line', () => {
    const pyz = build('python', ['-e', 'app.main:main', '-p', '/usr/bin/env python3.11']);
    expect(readFileSync(pyz).subarray(0, 26).toString()).toBe('#!/usr/bin/env python3.11\n');
  });

  it('--build-id: recorded and names the cache directory', async () => {
    const pyz = build('buildid', ['-e', 'app.main:main', '--build-id', 'release-42']);
    expect((await environmentOf(pyz)).build_id).toBe('release-42');
    const root = path.join(workspace, 'root-buildid');
    expect(run(pyz, { SHIV_ROOT: root }).status).toBe(0);
    expect(existsSync(path.join(root, 'buildid_release-42', 'site-packages', 'app', 'main.py'))).toBe(true);
  });

  it('--uncompressed stores every entry; --compressed deflates', async () => {
    const stored = await readPyzInfo(build('stored', ['-e', 'app.main:main', '--uncompressed']), { listFiles: true });
    expect(stored.files!.every((file) => file.method === 0)).toBe(true);
    const deflated = await readPyzInfo(build('deflated', ['-e', 'app.main:main', '--compressed']), { listFiles: true });
    expect(deflated.files!.find((file) => file.path === 'app/main.py')!.method).toBe(8);
  });

  it('--compile-pyc: the first run byte-compiles the extracted packages', async () => {
    const pyz = build('pyc', ['-e', 'app.main:main', '--compile-pyc']);
    expect((await environmentOf(pyz)).compile_pyc).toBe(true);
    const root = path.join(workspace, 'root-pyc');
    expect(run(pyz, { SHIV_ROOT: root }).status).toBe(0);
    const cacheDirectory = readdirSync(root).find((name) => name.startsWith('pyc_') && !name.includes('.'))!;
    expect(readdirSync(path.join(root, cacheDirectory, 'site-packages', 'app', '__pycache__')).some((name) => name.startsWith('main.'))).toBe(true);
  });

  it('-E/--extend-pythonpath: subprocesses import the bundled packages', async () => {
    const pyz = build('extend', ['-e', 'app.main:child', '-E']);
    expect((await environmentOf(pyz)).extend_pythonpath).toBe(true);
    expect(run(pyz).stdout).toBe('child ok\n');
    const without = build('noextend', ['-e', 'app.main:child']);
    expect(run(without).status).not.toBe(0);
  });

  it('--reproducible: fixed built_at', async () => {
    const pyz = build('repro', ['-e', 'app.main:main', '--reproducible']);
    const environment = await environmentOf(pyz);
    expect(environment.reproducible).toBe(true);
    expect(environment.built_at).toBe('2020-01-01 00:00:00');
  });

  it('--no-modify: hashes recorded; a modified cache refuses to run', async () => {
    const pyz = build('nomodify', ['-e', 'app.main:main', '--no-modify']);
    const environment = await environmentOf(pyz);
    expect(environment.no_modify).toBe(true);
    expect(Object.keys(environment.hashes as object).sort()).toEqual(['app/__init__.py', 'app/main.py']);
    const root = path.join(workspace, 'root-nomodify');
    expect(run(pyz, { SHIV_ROOT: root }).status).toBe(0);
    const cacheDirectory = readdirSync(root).find((name) => name.startsWith('nomodify_') && !name.includes('.'))!;
    writeFileSync(path.join(root, cacheDirectory, 'site-packages', 'app', 'main.py'), 'def main():\n    print("tampered")\n');
    const tampered = run(pyz, { SHIV_ROOT: root });
    expect(tampered.stdout).not.toContain('tampered');
    expect(tampered.status).not.toBe(0);
    expect(tampered.stderr).toContain('CACHE_MODIFIED');
  });

  it('--preamble: a .py preamble runs first with archive and site_packages; a failing one stops start-up with its status', async () => {
    const pyz = build('preamble', ['-e', 'app.main:main', '--preamble', 'setup_env.py']);
    expect((await environmentOf(pyz)).preamble).toBe('setup_env.py');
    expect(run(pyz).stdout).toBe('preamble ran preamble.pyz site-packages\nmain\n');
    const failing = build('failing', ['-e', 'app.main:main', '--preamble', 'failing.sh']);
    const result = run(failing);
    expect(result.status).toBe(7);
    expect(result.stdout).not.toContain('main');
  });

  it("--root '$VAR': expanded at run time; unset VAR is an error naming it", async () => {
    const pyz = build('root', ['-e', 'app.main:main', '--root', '$PYZ_TEST_ROOT/cache']);
    expect((await environmentOf(pyz)).root).toBe('$PYZ_TEST_ROOT/cache');
    const base = path.join(workspace, 'varroot');
    const environment = { ...process.env };
    delete environment.SHIV_ROOT;
    const ran = spawnSync('python3', [pyz], { encoding: 'utf8', env: { ...environment, PYZ_TEST_ROOT: base } });
    expect(ran.stdout).toBe('main\n');
    expect(readdirSync(path.join(base, 'cache')).some((name) => name.startsWith('root_'))).toBe(true);
    const unset = spawnSync('python3', [pyz], { encoding: 'utf8', env: environment, cwd: workspace });
    expect(unset.status).not.toBe(0);
    expect(unset.stderr).toContain('PYZ_TEST_ROOT');
    expect(readdirSync(workspace).some((name) => name.startsWith('root_'))).toBe(false);
  });

  it('-c/--console-script from bin/ when no distribution declares it', async () => {
    mkdirSync(path.join(site, 'bin'), { recursive: true });
    writeFileSync(path.join(site, 'bin', 'hello-script'), '#!/usr/bin/env python3\nimport sys\nprint("script", sys.argv[1:])\n', { mode: 0o755 });
    const pyz = build('script', ['-c', 'hello-script']);
    expect((await environmentOf(pyz)).script).toBe('hello-script');
    const result = run(pyz, {}, ['q']);
    expect(result.stdout).toBe("script ['q']\n");
    expect(result.status).toBe(0);
    rmSync(path.join(site, 'bin'), { recursive: true });
  });
});
