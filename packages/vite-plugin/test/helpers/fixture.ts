/**
 * Test helpers of the bundler plugins (shared with packages/esbuild-plugin/test): a private copy
 * of examples/fullstack, one Flask + gunicorn tree installed once, and readers that check an
 * archive with Python's zipfile, `unzip -t` and by running it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPOSITORY_ROOT: string = path.resolve(here, '../../../..');
export const EXAMPLE_ROOT: string = path.join(REPOSITORY_ROOT, 'examples/fullstack');
const ARCHIVE_READER = path.join(here, 'archive.py');
export const APP_CHECK: string = readFileSync(path.join(here, 'app_check.py'), 'utf8');

const temporaryDirectories: string[] = [];

/** A fresh temporary directory, removed by `removeTemporaryDirectories()`. */
export function temporaryDirectory(prefix: string): string {
  const directory = mkdtempSync(path.join(os.tmpdir(), `pyz-plugin-test-${prefix}-`));
  temporaryDirectories.push(directory);
  return directory;
}

export function removeTemporaryDirectories(): void {
  for (const directory of temporaryDirectories.splice(0)) rmSync(directory, { recursive: true, force: true });
}

/** A private copy of examples/fullstack (sources only), so tests can edit and build it. */
export function copyExample(): string {
  const root = path.join(temporaryDirectory('example'), 'fullstack');
  cpSync(EXAMPLE_ROOT, root, {
    recursive: true,
    filter: (source) => !/(^|[\\/])(dist|node_modules|__pycache__|build|[^\\/]+\.egg-info)$/.test(path.relative(EXAMPLE_ROOT, source)),
  });
  return root;
}

/**
 * Flask and gunicorn installed once per machine (keyed by the requirements and interpreter) with
 * `pip install --target`, so each test build only installs the example's own package.
 */
export function flaskSitePackages(): string {
  const requirements = readFileSync(path.join(EXAMPLE_ROOT, 'requirements.txt'), 'utf8');
  const python = execFileSync('python3', ['-c', 'import sys; print(sys.version)'], { encoding: 'utf8' });
  const key = createHash('sha256').update(requirements).update(python).digest('hex').slice(0, 16);
  const target = path.join(os.tmpdir(), `pyz-plugin-test-flask-${key}`);
  if (existsSync(path.join(target, 'flask'))) return target;
  const staging = `${target}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const result = spawnSync('python3', ['-m', 'pip', 'install', '--quiet', '--target', staging, '-r', path.join(EXAMPLE_ROOT, 'requirements.txt')], {
    encoding: 'utf8',
    env: { ...process.env, PIP_RETRIES: '0', PIP_DISABLE_PIP_VERSION_CHECK: '1' },
  });
  if (result.status !== 0) throw new Error(`pip install flask gunicorn failed:\n${result.stdout}\n${result.stderr}`);
  try {
    renameSync(staging, target);
  } catch (error) {
    // another test file installed it meanwhile
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(path.join(target, 'flask'))) throw error;
  }
  return target;
}

/**
 * The example's pyz options for a copy at `root`: dependencies from the prebuilt tree, pip
 * installs only the example's own package (`--no-deps .`).
 */
export function exampleOptions(root: string, sitePackages: string, output: string = 'dist/app.pyz') {
  return {
    cwd: root,
    output,
    entryPoint: 'myapp.serve:main',
    sitePackages: [sitePackages],
    pipArgs: ['--no-deps', '.'],
    assetsPath: 'myapp/static',
  };
}

export interface ArchiveEntry {
  name: string;
  size: number;
  crc: number;
  mode: number;
  method: number;
}

export interface ArchiveListing {
  shebang: string;
  outer: ArchiveEntry[];
  environment: Record<string, unknown>;
  payload: ArchiveEntry[];
}

/** Reads the archive with Python's zipfile (CRC-checking every member) and `unzip -t`. */
export function readArchive(archive: string): ArchiveListing {
  const unzip = spawnSync('unzip', ['-tq', archive], { encoding: 'utf8' });
  if (unzip.status !== 0) throw new Error(`unzip -t ${archive} failed:\n${unzip.stdout}${unzip.stderr}`);
  return JSON.parse(execFileSync('python3', [ARCHIVE_READER, archive], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })) as ArchiveListing;
}

/** Bundler-specific hashes in asset names (`index-B2x_9aQz.js`, `index-5HQ2CKZL.css`) → `[hash]`. */
export function normalizeAssetName(name: string): string {
  return name.replace(/-[A-Za-z0-9_-]{8}\.(js|css)$/, '-[hash].$1');
}

export interface AppCheck {
  index: number;
  title: string;
  greeting: string;
  scripts: string[];
  scriptStatus: number[];
  script: string;
  favicon: number;
}

/** Runs the archive (`./app.pyz` through its shebang) in interpreter mode with APP_CHECK. */
export function runAppCheck(archive: string, shivRoot: string): AppCheck {
  const result = spawnSync(archive, ['-c', APP_CHECK], {
    encoding: 'utf8',
    env: { ...process.env, SHIV_INTERPRETER: '1', SHIV_ROOT: shivRoot },
    timeout: 60_000,
  });
  if (result.status !== 0) throw new Error(`${archive} -c APP_CHECK exited ${result.status}:\n${result.stdout}\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop()!) as AppCheck;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Polls `probe` until it returns a value other than undefined. */
export async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Replaces `search` in a file of the copy (and fails if it is not there). */
export function editFile(file: string, search: string | RegExp, replacement: string): void {
  const before = readFileSync(file, 'utf8');
  const after = before.replace(search, replacement);
  if (after === before) throw new Error(`${file} does not contain ${String(search)}`);
  writeFileSync(file, after);
}

export function ensureDirectory(directory: string): string {
  mkdirSync(directory, { recursive: true });
  return directory;
}
