// Test harness for the Python bootstrap: finds the interpreters, writes site-packages trees,
// builds archives with the real builder (buildPyz; make_pyz.py only for hand-crafted unsafe
// archives the builder refuses to make) and runs them with real Python.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildPyz } from '../../src/build.js';

const here = dirname(fileURLToPath(import.meta.url));
export const BOOTSTRAP_SOURCE = join(here, '..', '..', 'python');
export const MAKE_PYZ = join(here, 'make_pyz.py');
export const EXTRACT_CHECK = join(here, 'extract_check.py');
export const CORRUPT_MEMBER = join(here, 'corrupt_member.py');

/** Absolute path of pythonX.Y: PATH first, then pyenv's versions directory (shims only know the global one). */
export function findPython(version: string): string {
  const pyenvRoot = process.env.PYENV_ROOT ?? join(homedir(), '.pyenv');
  const versions = join(pyenvRoot, 'versions');
  if (existsSync(versions)) {
    for (const name of readdirSync(versions).sort().reverse()) {
      const candidate = join(versions, name, 'bin', `python${version}`);
      if (name.startsWith(`${version}.`) && existsSync(candidate)) return candidate;
    }
  }
  const probe = spawnSync(`python${version}`, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  if (probe.status === 0) return probe.stdout.trim();
  throw new Error(`python${version} not found (looked on PATH and in ${versions})`);
}

export function makeTemporaryDirectory(label: string): string {
  return mkdtempSync(join(tmpdir(), `pyz-bootstrap-${label}-`));
}

export function removeDirectory(path: string): void {
  rmSync(path, { recursive: true, force: true });
}

export type FileSpec = string | { text: string; mode: number };

/** Writes `files` (relative path → content) under `root`. */
export function writeTree(root: string, files: Record<string, FileSpec>): string {
  for (const [relative, spec] of Object.entries(files)) {
    const path = join(root, relative);
    mkdirSync(dirname(path), { recursive: true });
    const text = typeof spec === 'string' ? spec : spec.text;
    writeFileSync(path, text);
    if (typeof spec !== 'string') chmodSync(path, spec.mode);
  }
  return root;
}

/** What the bootstrap tests vary; every other builder option keeps its default. */
export interface ArchiveOptions {
  output: string;
  sitePackages: string;
  entryPoint?: string;
  consoleScript?: string;
  /** Path of a script file (the builder copies it to bin/ in the payload). */
  preamble?: string;
  noModify?: boolean;
  compilePyc?: boolean;
  extendPythonpath?: boolean;
  root?: string;
}

/** Builds an archive with the real builder (as `pyz build` does); returns its build id. */
export async function buildArchive(options: ArchiveOptions): Promise<string> {
  const { sitePackages, ...rest } = options;
  // config: false — no pyproject.toml of the repository; incremental: false — no build index in ~/.cache.
  const result = await buildPyz({ ...rest, sitePackages: [sitePackages], config: false, backend: 'zlib', incremental: false });
  return result.buildId;
}

export interface StandInOptions {
  output: string;
  sitePackages?: string;
  /** Payload members written verbatim (names no directory can hold, e.g. "../x"). */
  members?: { name: string; text?: string; mode?: number }[];
  environment?: Record<string, unknown>;
}

/**
 * Builds an archive with the stand-in make_pyz.py; returns its build id. Only for what the real
 * builder refuses to make: unsafe members ("..", absolute names, symlinks, duplicates), explicit
 * directory members (the builder writes none) and environment.json values it has no option for
 * (prepend_pythonpath).
 */
export function buildStandIn(options: StandInOptions): string {
  const spec = {
    output: options.output,
    bootstrap: BOOTSTRAP_SOURCE,
    site_packages: options.sitePackages,
    members: options.members,
    environment: options.environment ?? {},
    compress: true,
  };
  const result = spawnSync(findPython('3.11'), [MAKE_PYZ], { input: JSON.stringify(spec), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`make_pyz.py failed: ${result.stderr}`);
  return result.stdout.trim();
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: ours without any SHIV_* variable, plus `overrides` (undefined deletes). */
export function runEnvironment(overrides: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('SHIV_') && key !== 'PYTHONPATH') environment[key] = value;
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete environment[key];
    else environment[key] = value;
  }
  return environment;
}

export interface RunOptions {
  environment?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
  timeout?: number;
}

export function runPyz(python: string, pyz: string, args: string[] = [], options: RunOptions = {}): RunResult {
  const result = spawnSync(python, [pyz, ...args], {
    env: runEnvironment(options.environment ?? {}),
    input: options.input ?? '',
    cwd: options.cwd,
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

export function runPyzAsync(python: string, pyz: string, args: string[] = [], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [pyz, ...args], { env: runEnvironment(options.environment ?? {}), cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

/**
 * A `python -c` script that runs the archive given as its first argument inside that interpreter
 * the way `python app.pyz` does (runpy on the archive), with the Python lines `before` and
 * `after` around it; the app exiting with a status other than 0 fails the script.
 */
export function inProcessRun(before: string[], after: string[]): string {
  return [
    'import runpy, sys',
    'archive = sys.argv[1]',
    'sys.argv = [archive]',
    ...before,
    'try:',
    '    runpy.run_path(archive, run_name="__main__")',
    'except SystemExit as exit:',
    '    assert not exit.code, exit.code',
    ...after,
  ].join('\n');
}

/** Entries of a directory, sorted ([] when it does not exist). */
export function listDirectory(path: string): string[] {
  return existsSync(path) ? readdirSync(path).sort() : [];
}

/** The demo application every bootstrap test packs (site-packages layout, as pip --target writes it). */
export const DEMO_FILES: Record<string, FileSpec> = {
  'demo/__init__.py': [
    'import json, os, sys, time',
    'def main():',
    '    print("main argv=" + json.dumps(sys.argv, separators=(",", ":")))',
    '    return int(os.environ.get("DEMO_STATUS", "0"))',
    'def text():',
    '    return "something went wrong"',
    'def raise_exit():',
    '    raise SystemExit(7)',
    'def where():',
    '    import pthmod',
    '    print(json.dumps({"file": __file__, "path": sys.path, "pth": pthmod.VALUE,',
    '                      "pythonpath": os.environ.get("PYTHONPATH")}))',
    'def wait_then_import():',
    '    # Holds the app running until the test creates DEMO_FLAG, then imports more of the cache.',
    '    flag = os.environ["DEMO_FLAG"]',
    '    open(flag + ".started", "w").close()',
    '    deadline = time.time() + 60',
    '    while not os.path.exists(flag) and time.time() < deadline:',
    '        time.sleep(0.02)',
    '    import demo.late',
    '    print("late=" + demo.late.VALUE)',
    '',
  ].join('\n'),
  'demo/late.py': 'import os\nwith open(os.path.join(os.path.dirname(__file__), "data.txt")) as f:\n    VALUE = f.read().strip()\n',
  'demo/data.txt': 'payload-data\n',
  'demo/script.py': 'import sys\nprint("script ran as " + __name__ + " argv0=" + sys.argv[0])\n',
  'demo-1.0.dist-info/METADATA': 'Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n',
  'demo-1.0.dist-info/entry_points.txt': '[console_scripts]\ndemo-ep = demo:main\n',
  'bin/demo-bin': { text: '#!/usr/bin/env python3\nimport sys\nfrom demo import main\nif __name__ == "__main__":\n    sys.exit(main())\n', mode: 0o755 },
  'demo.pth': 'pthdir\n',
  'pthdir/pthmod.py': 'VALUE = "from-pth"\n',
};

/** Preamble scripts (outside the site-packages tree: the builder copies them into bin/). */
export const PREAMBLE_FILES: Record<string, FileSpec> = {
  'preamble.py': 'import os\nprint("preamble archive=%s stem=%s sp=%s" % (os.path.basename(archive), env.build_id[:8], site_packages.name))\n',
  'preamble-fail.sh': { text: '#!/bin/sh\necho "preamble failing" >&2\nexit 4\n', mode: 0o755 },
};
