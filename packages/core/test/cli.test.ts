/**
 * The `pyz` command as a user runs it: help, exit statuses per error class, --json, pyz info
 * (shiv-info's output), [tool.pyz] config.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES } from '../src/errors.js';

const cli = path.resolve(__dirname, '../dist/bin.js');
const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-cli-'));
const site = path.join(workspace, 'site');
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

function pyz(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cli, ...args], {
    cwd: options.cwd ?? workspace,
    encoding: 'utf8',
    env: { ...process.env, XDG_CACHE_HOME: path.join(workspace, 'cache'), SHIV_ROOT: path.join(workspace, 'shiv'), ...options.env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(() => {
  mkdirSync(path.join(site, 'tool'), { recursive: true });
  writeFileSync(path.join(site, 'tool', '__init__.py'), '');
  writeFileSync(path.join(site, 'tool', 'cli.py'), 'import sys\ndef main():\n    print("tool", *sys.argv[1:])\n');
});

describe('help and version', () => {
  it.each([[['--help']], [['build', '--help']], [['info', '--help']], [['cache', '--help']]])('pyz %s prints usage with examples and exits 0', (args) => {
    const result = pyz(args);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/Usage/);
    if (args[0] !== '--help') expect(result.stdout).toMatch(/Examples:\n {2}pyz /);
  });

  it('pyz --version prints the version', () => {
    expect(pyz(['--version']).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});

describe('exit statuses per error class', () => {
  it.each([
    ['usage', ['frobnicate'], 'INVALID_OPTION'],
    ['usage', ['build', '-e', 'a:b:c', '--site-packages', 'site', '-o', 'x.pyz'], 'ENTRY_POINT_INVALID'],
    ['usage', ['build', '-e', 'a:b', '-c', 'x', '--site-packages', 'site', '-o', 'x.pyz'], 'ENTRY_POINT_CONFLICT'],
    ['usage', ['build', '--site-packages', 'site', '-o', 'x.pyz', '--user', 'flask'], 'PIP_ARGUMENT_REFUSED'],
    ['input', ['build', '-e', 'missing.mod:main', '--site-packages', 'site', '-o', 'x.pyz'], 'ENTRY_POINT_NOT_FOUND'],
    ['input', ['build', '--site-packages', 'nowhere', '-o', 'x.pyz'], 'SITE_PACKAGES_NOT_FOUND'],
    ['archive', ['info', 'site/tool/cli.py'], 'ARCHIVE_INVALID'],
  ])('%s error: %s', (errorClass, args, code) => {
    const result = pyz(args as string[]);
    expect(result.status).toBe(EXIT_CODES[errorClass]);
    expect(result.stderr).toContain(`pyz: error ${code}:`);
    expect(result.stderr).toContain('fix:');
  });
});

describe('build --json and info', () => {
  it('--json prints the result; pyz info prints environment.json like shiv-info; -j --list adds files', () => {
    const output = path.join(workspace, 'dist', 'tool.pyz');
    const built = pyz(['build', '-e', 'tool.cli:main', '--site-packages', 'site', '-o', output, '--json', '--backend', 'zlib']);
    expect(built.status, built.stderr).toBe(0);
    const result = JSON.parse(built.stdout);
    expect(result).toMatchObject({ outputPath: output, files: 2, backend: 'zlib' });
    expect(result.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.timings.totalMs).toBeGreaterThan(0);

    const text = pyz(['info', output]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(`pyz file: ${output}`);
    expect(text.stdout).toContain('entry_point: tool.cli:main');
    expect(text.stdout).toContain(`build_id: ${result.buildId}`);

    const json = JSON.parse(pyz(['info', '-j', '--list', output]).stdout);
    expect(json.entry_point).toBe('tool.cli:main');
    expect(json.files.map((file: { path: string }) => file.path)).toEqual(['tool/__init__.py', 'tool/cli.py']);

    const ran = spawnSync(output, ['a'], { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: path.join(workspace, 'shiv') } });
    expect(ran.stdout).toBe('tool a\n');
  });

  it('reads [tool.pyz] from pyproject.toml; flags win', () => {
    const project = path.join(workspace, 'project');
    mkdirSync(project, { recursive: true });
    writeFileSync(path.join(project, 'pyproject.toml'), `[project]\nname = "tool"\n[project.scripts]\ntool = "tool.cli:main"\n[tool.pyz]\noutput-file = "out/from-config.pyz"\nsite-packages = ["${site}"]\nbackend = "zlib"\n`);
    const built = pyz(['build', '--json'], { cwd: project });
    expect(built.status, built.stderr).toBe(0);
    expect(JSON.parse(built.stdout).outputPath).toBe(path.join(project, 'out', 'from-config.pyz'));
    const ran = spawnSync(path.join(project, 'out', 'from-config.pyz'), ['x'], { encoding: 'utf8', env: { ...process.env, SHIV_ROOT: path.join(workspace, 'shiv') } });
    expect(ran.stdout).toBe('tool x\n');
    const overridden = pyz(['build', '--json', '-o', 'out/flag.pyz'], { cwd: project });
    expect(JSON.parse(overridden.stdout).outputPath).toBe(path.join(project, 'out', 'flag.pyz'));
  });
});

describe('pyz cache', () => {
  it('lists extractions, marks the one in use, and prune never removes it', async () => {
    const shivRoot = path.join(workspace, 'cache-root');
    const env = { SHIV_ROOT: shivRoot };
    const built = ['one', 'two'].map((name) => {
      const output = path.join(workspace, 'dist', `${name}.pyz`);
      const result = pyz(['build', '-e', 'tool.cli:main', '--site-packages', 'site', '-o', output, '--backend', 'zlib', '-q']);
      expect(result.status, result.stderr).toBe(0);
      return output;
    });
    for (const output of built) expect(spawnSync(output, [], { env: { ...process.env, ...env } }).status).toBe(0);
    const listing = JSON.parse(pyz(['cache', 'list', '--json'], { env }).stdout);
    expect(listing.runtime.root).toBe(shivRoot);
    expect(listing.runtime.entries.map((entry: { app: string }) => entry.app).sort()).toEqual(['one', 'two']);
    expect(listing.runtime.entries.every((entry: { complete: boolean; inUse: boolean; files: number }) => entry.complete && !entry.inUse && entry.files === 2)).toBe(true);

    // A long-running process of "one" holds its extraction.
    const { spawn } = await import('node:child_process');
    const running = spawn(built[0]!, [], { env: { ...process.env, ...env, SHIV_INTERPRETER: '1' }, stdio: ['pipe', 'pipe', 'inherit'] });
    running.stdin!.write('import sys, time\nprint("ready", flush=True)\ntime.sleep(30)\n');
    running.stdin!.end();
    await new Promise<void>((resolve) => running.stdout!.once('data', () => resolve()));
    try {
      const busy = JSON.parse(pyz(['cache', 'list', '--json'], { env }).stdout);
      expect(busy.runtime.entries.find((entry: { app: string }) => entry.app === 'one').inUse).toBe(true);
      const pruned = pyz(['cache', 'prune', '--all'], { env });
      expect(pruned.status, pruned.stderr).toBe(0);
      expect(pruned.stdout).toMatch(/removed .*two_/);
      expect(pruned.stdout).toMatch(/kept .*one_.*\(in use\)/);
    } finally {
      running.kill('SIGKILL');
      await new Promise((resolve) => running.once('close', resolve));
    }
    const after = JSON.parse(pyz(['cache', 'prune', '--all', '--json'], { env }).stdout);
    expect(after.removed.length).toBe(1);
    expect(JSON.parse(pyz(['cache', 'list', '--json'], { env }).stdout).runtime.entries).toEqual([]);
  });
});
