/**
 * Real applications from the local package index: a Flask app served by gunicorn from the .pyz
 * answering HTTP, numpy's C extensions, and the dependency cache (an unchanged rebuild runs pip
 * zero times).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './helpers/network.js';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPyz } from '../src/build.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-real-'));
process.env.XDG_CACHE_HOME = path.join(workspace, 'cache');
process.env.PIP_RETRIES = '0';
const shivRoot = path.join(workspace, 'shiv-root');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));


describe('a Flask app served by gunicorn from the .pyz', () => {
  const project = path.join(workspace, 'flaskapp');
  mkdirSync(path.join(project, 'hello'), { recursive: true });
  writeFileSync(path.join(project, 'requirements.txt'), 'flask\ngunicorn\n');
  writeFileSync(path.join(project, 'pyproject.toml'), '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "hello"\nversion = "1.0"\n[tool.setuptools]\npackages = ["hello"]\n');
  writeFileSync(path.join(project, 'hello', '__init__.py'), '');
  writeFileSync(
    path.join(project, 'hello', 'web.py'),
    [
      'import os, sys',
      'from flask import Flask, jsonify',
      'app = Flask(__name__)',
      '@app.get("/")',
      'def index():',
      '    return jsonify(message="hello from pyz", python=sys.version_info[:2])',
      'def main():',
      '    from gunicorn.app.wsgiapp import run',
      '    sys.argv = ["gunicorn", "--bind", "127.0.0.1:" + os.environ["PORT"], "--workers", "2", "hello.web:app"]',
      '    return run()',
      '',
    ].join('\n'),
  );
  const output = path.join(workspace, 'dist', 'hello.pyz');

  it('builds from a requirements file with pip, starts as ./hello.pyz and answers HTTP', async () => {
    const pipRuns: number[] = [];
    const first = await buildPyz({ output, entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false });
    pipRuns.push(first.pipRuns);
    expect(first.files).toBeGreaterThan(100);
    const port = await freePort();
    const server = spawn(output, [], { env: { ...process.env, PORT: String(port), SHIV_ROOT: shivRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    try {
      let body: unknown = null;
      for (let attempt = 0; attempt < 150 && body === null; attempt++) {
        try {
          const response = await fetch(`http://127.0.0.1:${port}/`);
          body = await response.json();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      }
      expect(body, log).toMatchObject({ message: 'hello from pyz' });
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('close', resolve));
    }

    // Unchanged inputs: the dependency cache answers, pip runs zero times.
    const second = await buildPyz({ output, entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false });
    pipRuns.push(second.pipRuns);
    expect(pipRuns).toEqual([1, 0]);
    expect(second.buildId).toBe(first.buildId);

    // An edited local project changes the key: pip runs again and the new code is packed.
    writeFileSync(path.join(project, 'hello', 'extra.py'), 'X = 1\n');
    const third = await buildPyz({ output, entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false });
    expect(third.pipRuns).toBe(1);
    expect(third.buildId).not.toBe(first.buildId);

    // Editing a source file of the local project: no pip run, the new code is packed, and the
    // archive is byte-identical to a build that runs pip from scratch.
    const webSource = readFileSync(path.join(project, 'hello', 'web.py'), 'utf8');
    writeFileSync(path.join(project, 'hello', 'web.py'), webSource.replace('hello from pyz', 'hello again'));
    const edited = await buildPyz({ output, entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false, reproducible: true });
    expect(edited.pipRuns).toBe(0);
    const scratch = await buildPyz({ output: path.join(workspace, 'dist', 'scratch.pyz'), entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false, reproducible: true, pipCache: false, incremental: false });
    expect(scratch.pipRuns).toBe(1);
    expect(edited.sha256).toBe(scratch.sha256);
    writeFileSync(path.join(project, 'hello', 'web.py'), webSource);

    // A damaged dependency-cache entry (a file deleted from it) is noticed and reinstalled.
    const pipCache = path.join(process.env.XDG_CACHE_HOME!, 'pyz', 'pip');
    for (const entry of readdirSync(pipCache).filter((name) => existsSync(path.join(pipCache, name, 'site', 'flask', 'app.py')))) {
      rmSync(path.join(pipCache, entry, 'site', 'flask', 'app.py'));
    }
    const warnings: string[] = [];
    const fourth = await buildPyz({ output, entryPoint: 'hello.web:main', pipArgs: ['-r', 'requirements.txt', '.'], cwd: project, config: false, log: { info() {}, warn: (message) => warnings.push(message) } });
    expect(fourth.pipRuns).toBe(1);
    expect(warnings.join('\n')).toMatch(/is damaged \(\d+ files recorded, \d+ present\)/);
    expect(fourth.buildId).toBe(third.buildId);
    expect(fourth.pipRuns).toBe(1);
  });
});

describe('a package with C extensions', () => {
  it('numpy imports and computes from the archive on python3', async () => {
    const output = path.join(workspace, 'dist', 'np.pyz');
    await buildPyz({ output, pipArgs: ['numpy'], cwd: workspace, config: false });
    const result = spawnSync('python3', [output, '-c', 'import numpy; print(numpy.arange(10).sum(), numpy.__file__.startswith(__import__("os").environ["SHIV_ROOT"]))'], {
      encoding: 'utf8',
      env: { ...process.env, SHIV_ROOT: shivRoot },
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('45 True\n');
  });
});
