/**
 * `python -m pip install --target <staging> …`, with a dependency cache.
 *
 * The cache key covers everything that decides pip's result: the pip arguments, the contents of
 * every requirements/constraints file they name (-r/-c, recursively as far as we can see them),
 * the contents of local project directories and archives given as arguments (so an edited
 * project invalidates the entry), and the interpreter's version, implementation, platform and
 * ABI tags. VCS requirements (git+…, hg+…, svn+…, bzr+…) and URLs without a pinned hash can
 * change while the line does not, so a build that has them is never cached.
 *
 * Layout: `${XDG_CACHE_HOME:-~/.cache}/pyz/pip/<key>/site` plus `<key>/complete` written last;
 * a new entry is installed into a temporary sibling and renamed into place, so a crash or a
 * concurrent build never publishes a partial tree.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PyzError } from './errors.js';
import { isDirectory, walkTree, type FileRecord } from './files.js';
import type { Logger } from './options.js';

export interface PythonIdentity {
  readonly executable: string;
  readonly version: string;
  readonly implementation: string;
  readonly platform: string;
  readonly tags: string;
}

const IDENTITY_SCRIPT = [
  'import sys, platform, sysconfig',
  'print(sys.executable)',
  'print(platform.python_version())',
  'print(sys.implementation.name)',
  'print(sysconfig.get_platform())',
  "print(sysconfig.get_config_var('SOABI') or '')",
].join('\n');

/**
 * Asks the interpreter that will run pip who it is (one short process), without blocking: the
 * build stages other inputs meanwhile.
 */
export function identifyPythonAsync(pipPython: string): Promise<PythonIdentity> {
  return new Promise((resolve, reject) => {
    const child = spawn(pipPython, ['-I', '-c', IDENTITY_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const fail = (reason: string, cause?: unknown): void =>
      reject(new PyzError('PYTHON_NOT_FOUND', `cannot run the Python "${pipPython}" that installs the requirements: ${reason}`, { value: pipPython, fix: 'install Python 3.8+ or pass pipPython / --pip-python with a working interpreter', cause }));
    child.on('error', (error) => fail(error.message, error));
    child.on('close', (status) => {
      if (status !== 0) return fail(stderr.trim() || `exit status ${status}`);
      const [executable = '', version = '', implementation = '', platform = '', tags = ''] = stdout.trim().split('\n');
      resolve({ executable, version, implementation, platform, tags });
    });
  });
}

/** Default cache root of pyz's build-side caches. */
export function buildCacheRoot(environment: NodeJS.ProcessEnv = process.env): string {
  const base = environment.XDG_CACHE_HOME && path.isAbsolute(environment.XDG_CACHE_HOME) ? environment.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'pyz');
}

const VCS_PATTERN = /^(?:-e\s+)?(?:git|hg|svn|bzr)\+|@\s*(?:git|hg|svn|bzr)\+/;
/** pip options whose value is a requirements or constraints file. */
export const OPTIONS_WITH_FILE: ReadonlySet<string> = new Set(['-r', '--requirement', '-c', '--constraint']);

const SKIPPED_PROJECT_DIRECTORIES = new Set(['.git', 'node_modules', '__pycache__', 'build', 'dist', '.venv', '.tox', '.mypy_cache', '.pytest_cache']);

/** Entries of a local project that pip never reads (VCS, build output, caches, bytecode). */
export function isProjectNoise(name: string): boolean {
  return SKIPPED_PROJECT_DIRECTORIES.has(name) || name.endsWith('.egg-info') || name.endsWith('.pyc');
}

/** Files of a local project that pip can read, sorted, relative to its root ('/'-separated). */
function projectFiles(root: string, relative = ''): string[] {
  const files: string[] = [];
  const entries = fs.readdirSync(path.join(root, relative), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (isProjectNoise(entry.name)) continue;
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) files.push(...projectFiles(root, child));
    else if (entry.isFile()) files.push(child);
  }
  return files;
}

/**
 * Hashes a local project: every file's name and exec bit, and the content of every file except
 * those in `namesOnly` (sources that are copied verbatim into site-packages: their content is
 * taken from the project at build time instead, see LocalProjectLayer).
 */
function hashDirectory(directory: string, hash: ReturnType<typeof createHash>, namesOnly: ReadonlySet<string> = new Set()): void {
  for (const relative of projectFiles(directory)) {
    const full = path.join(directory, relative);
    const stat = fs.statSync(full);
    hash.update(`f ${relative}\0${stat.mode & 0o111 ? 'x' : '-'}\0`);
    if (!namesOnly.has(relative)) hash.update(fs.readFileSync(full));
    hash.update('\0');
  }
}

function hashRequirementFile(file: string, cwd: string, hash: ReturnType<typeof createHash>, seen: Set<string>): boolean {
  const absolute = path.resolve(cwd, file);
  if (seen.has(absolute)) return true;
  seen.add(absolute);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch {
    return true; // pip reports a missing file itself, with its own message
  }
  hash.update(`requirements ${file}\0${text}\0`);
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.replace(/(^|\s)#.*$/, '').trim();
    if (line === '') continue;
    if (VCS_PATTERN.test(line)) return false;
    const nested = /^(?:-r|--requirement|-c|--constraint)[\s=]+(\S+)/.exec(line);
    if (nested && !hashRequirementFile(nested[1]!, path.dirname(absolute), hash, seen)) return false;
    if (/^(?:\.|\/|file:)/.test(line) || /^-e\s/.test(line)) {
      const local = line.replace(/^-e\s+/, '').replace(/^file:(\/\/)?/, '').split(/[\s;\[]/)[0]!;
      const target = path.resolve(path.dirname(absolute), local);
      if (!hashLocalPath(target, hash)) return false;
    }
  }
  return true;
}

function hashLocalPath(target: string, hash: ReturnType<typeof createHash>): boolean {
  try {
    const stat = fs.statSync(target);
    hash.update(`local ${target}\0`);
    if (stat.isDirectory()) hashDirectory(target, hash);
    else hash.update(fs.readFileSync(target));
    return true;
  } catch {
    return false;
  }
}

/**
 * The cache key of a pip install, or null when the arguments name something whose content
 * cannot be keyed (VCS requirements, remote URLs).
 */
export function pipCacheKey(pipArgs: readonly string[], cwd: string, identity: PythonIdentity): string | null {
  const hash = createHash('sha256');
  hash.update(`pyz-pip-cache 1\0${identity.executable}\0${identity.version}\0${identity.implementation}\0${identity.platform}\0${identity.tags}\0`);
  const seen = new Set<string>();
  for (let index = 0; index < pipArgs.length; index++) {
    const argument = pipArgs[index]!;
    hash.update(`arg ${argument}\0`);
    if (VCS_PATTERN.test(argument) || /^[a-z]+:\/\//i.test(argument)) return null;
    const inline = /^(?:--requirement|--constraint)=(.+)$/.exec(argument) ?? /^-[rc](.+)$/.exec(argument);
    if (OPTIONS_WITH_FILE.has(argument) && index + 1 < pipArgs.length) {
      const file = pipArgs[++index]!;
      hash.update(`arg ${file}\0`);
      if (!hashRequirementFile(file, cwd, hash, seen)) return null;
    } else if (inline) {
      if (!hashRequirementFile(inline[1]!, cwd, hash, seen)) return null;
    } else if (!argument.startsWith('-') && (argument.startsWith('.') || argument.startsWith('/') || fs.existsSync(path.resolve(cwd, argument)))) {
      const target = path.resolve(cwd, argument);
      if (isDirectory(target)) {
        // A local project: its file names here; its contents are checked against the cache
        // entry's record (LocalProjectRecord), so an edited source is refreshed without pip.
        for (const relative of projectFiles(target)) hash.update(`local ${target}\0${relative}\0`);
      } else if (!hashLocalPath(target, hash)) return null;
    }
  }
  return hash.digest('hex').slice(0, 32);
}


/** Local project directories named in the pip arguments (not requirement files' lines). */
export function localProjectsOf(pipArgs: readonly string[], cwd: string): string[] {
  const projects: string[] = [];
  pipArgs.forEach((argument, index) => {
    const previous = pipArgs[index - 1];
    if (argument.startsWith('-') || (previous !== undefined && (OPTIONS_WITH_FILE.has(previous) || /^--?[a-z-]+$/.test(previous) && VALUE_OPTIONS.has(previous)))) return;
    const target = path.resolve(cwd, argument);
    if (isDirectory(target)) projects.push(target);
  });
  return projects;
}

/** pip options whose next argument is a value, not a requirement. */
const VALUE_OPTIONS = new Set(['-i', '--index-url', '--extra-index-url', '-f', '--find-links', '--platform', '--python-version', '--implementation', '--abi', '--no-binary', '--only-binary', '--progress-bar', '--trusted-host', '--config-settings', '-C', '--global-option', '--upgrade-strategy', '--src', '--root-user-action', '--report', '--cache-dir', '--log', '--proxy', '--retries', '--timeout', '--exists-action', '--cert', '--client-cert', '--use-feature', '--use-deprecated']);

/**
 * What a local project installed into a cache entry: each installed file that is a verbatim copy
 * of a project file (checked byte for byte right after pip ran), and a hash of everything else in
 * the project. While that hash holds, a build takes the mapped files from the project as they
 * are now — what pip would install again — and skips pip.
 */
interface LocalProjectRecord {
  root: string;
  distInfo: string;
  mappings: [installed: string, source: string][];
  otherContentHash: string;
}

function otherContentHash(root: string, mappedSources: ReadonlySet<string>): string {
  const hash = createHash('sha256');
  hashDirectory(root, hash, mappedSources);
  return hash.digest('hex');
}

function recordLocalProjects(site: string, projects: readonly string[]): LocalProjectRecord[] | null {
  const records: LocalProjectRecord[] = [];
  const distInfos = fs.readdirSync(site).filter((name) => name.endsWith('.dist-info'));
  for (const root of projects) {
    const distInfo = distInfos.find((name) => {
      try {
        const directUrl = JSON.parse(fs.readFileSync(path.join(site, name, 'direct_url.json'), 'utf8')) as { url?: string };
        return directUrl.url !== undefined && path.resolve(fileURLToPath(directUrl.url)) === root;
      } catch {
        return false;
      }
    });
    if (distInfo === undefined) return null; // not a plain install from this directory: no shortcut
    const mappings: [string, string][] = [];
    const record = fs.readFileSync(path.join(site, distInfo, 'RECORD'), 'utf8');
    for (const line of record.split(/\r?\n/)) {
      const installed = line.split(',')[0]!;
      if (installed === '' || installed.startsWith('..') || installed.startsWith(`${distInfo}/`) || installed.endsWith('.pyc')) continue;
      for (const source of [installed, `src/${installed}`]) {
        const sourcePath = path.join(root, source);
        try {
          if (fs.statSync(sourcePath).isFile() && fs.readFileSync(sourcePath).equals(fs.readFileSync(path.join(site, installed)))) {
            mappings.push([installed, source]);
            break;
          }
        } catch {
          // not this candidate
        }
      }
    }
    records.push({ root, distInfo, mappings, otherContentHash: otherContentHash(root, new Set(mappings.map(([, source]) => source))) });
  }
  return records;
}

/** RECORD lines carry each file's sha256 and size (PEP 376/627); rewritten for refreshed files. */
function rewriteRecord(text: string, refreshed: ReadonlyMap<string, Buffer>): Buffer {
  const lines = text.split('\n').map((line) => {
    const installed = line.split(',')[0]!;
    const content = refreshed.get(installed);
    if (content === undefined) return line;
    const digest = createHash('sha256').update(content).digest('base64url');
    return `${installed},sha256=${digest},${content.length}${line.endsWith('\r') ? '\r' : ''}`;
  });
  return Buffer.from(lines.join('\n'), 'utf8');
}

export interface PipInstallResult {
  /** A directory tree to pack (read it, don't modify it: it may be a shared cache entry). */
  readonly directory: string;
  /** Whether pip ran (false on a cache hit). */
  readonly ran: boolean;
  /** Installed paths whose bytes come from a local project's current source file instead. */
  readonly overrides: ReadonlyMap<string, string>;
  /** Installed paths whose bytes are generated (RECORD files of refreshed projects). */
  readonly generated: ReadonlyMap<string, Buffer>;
  /** Remove temporary files (a no-op for cache entries). */
  dispose(): Promise<void>;
}

async function runPip(pipPython: string, target: string, pipArgs: readonly string[], cwd: string, log: Logger, signal?: AbortSignal): Promise<void> {
  const argv = ['-m', 'pip', 'install', '--target', target, '--no-user', '--disable-pip-version-check', '--no-input', ...pipArgs];
  log.info(`pip: ${pipPython} ${argv.join(' ')}`);
  const output: string[] = [];
  await new Promise<void>((resolve, reject) => {
    const child = spawn(pipPython, argv, {
      cwd,
      signal,
      env: { ...process.env, PIP_RETRIES: process.env.PIP_RETRIES ?? '0', PIP_NO_WARN_SCRIPT_LOCATION: '1', PYTHONDONTWRITEBYTECODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (line.trim() === '') continue;
        output.push(line);
        if (output.length > 400) output.shift();
        log.info(`pip: ${line}`);
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', (error) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new PyzError('PYTHON_NOT_FOUND', `cannot run "${pipPython}" to install the requirements`, { value: pipPython, fix: 'install Python 3.8+ or set pipPython', cause: error }));
      } else reject(error);
    });
    child.on('close', (status, signalName) => {
      if (status === 0) resolve();
      else
        reject(
          new PyzError('PIP_FAILED', `pip install failed (${signalName ? `signal ${signalName}` : `exit status ${status}`}) for: ${pipArgs.join(' ')}\n--- pip output (last lines) ---\n${output.slice(-60).join('\n')}`, {
            value: pipArgs,
            fix: 'read pip\'s output above; check the requirement names and versions exist in your package index',
          }),
        );
    });
  });
}

/** Records every file's size and mtime, so a damaged cache entry is noticed on the next hit. */
async function writeManifest(entry: string): Promise<void> {
  const files = await walkTree(path.join(entry, 'site'));
  const manifest = Object.fromEntries(files.map((file) => [file.relativePath, [file.size, file.mtimeMs]]));
  fs.writeFileSync(path.join(entry, 'manifest.json'), JSON.stringify(manifest));
}

/** Walks of cache entries that matched their manifest, so the build need not walk them again. */
const checkedWalks = new Map<string, FileRecord[]>();

/** The files of a pip result directory (walked once per build when the manifest check did it). */
export async function pipResultFiles(directory: string): Promise<FileRecord[]> {
  const walked = checkedWalks.get(directory);
  checkedWalks.delete(directory);
  return walked ?? walkTree(directory);
}

/** null when the entry's files are exactly those recorded, else what differs. */
async function checkManifest(entry: string): Promise<string | null> {
  let manifest: Record<string, [number, number]>;
  try {
    manifest = JSON.parse(fs.readFileSync(path.join(entry, 'manifest.json'), 'utf8')) as Record<string, [number, number]>;
  } catch {
    return 'manifest.json missing or unreadable';
  }
  let files;
  try {
    files = await walkTree(path.join(entry, 'site'));
  } catch (error) {
    return (error as Error).message;
  }
  if (files.length !== Object.keys(manifest).length) return `${Object.keys(manifest).length} files recorded, ${files.length} present`;
  for (const file of files) {
    const recorded = manifest[file.relativePath];
    if (!recorded) return `unexpected file ${file.relativePath}`;
    if (recorded[0] !== file.size || recorded[1] !== file.mtimeMs) return `${file.relativePath} was modified`;
  }
  checkedWalks.set(path.join(entry, 'site'), files);
  return null;
}

/** Installs the requirements into a directory, from the dependency cache when possible. */
export async function pipInstall(options: {
  pipArgs: readonly string[];
  pipPython: string;
  cwd: string;
  log: Logger;
  useCache: boolean;
  cacheRoot?: string;
  signal?: AbortSignal;
  /** Called each time pip actually runs (tests count them). */
  onPipRun?: () => void;
  /** The interpreter's identity when the caller already started asking for it. */
  identity?: Promise<PythonIdentity>;
}): Promise<PipInstallResult> {
  const identityPromise = options.identity ?? identifyPythonAsync(options.pipPython);
  const cacheRoot = path.join(options.cacheRoot ?? buildCacheRoot(), 'pip');
  const projects = localProjectsOf(options.pipArgs, options.cwd);
  const none = { overrides: new Map<string, string>(), generated: new Map<string, Buffer>() };

  // Checking a cache entry (a walk of thousands of files) overlaps with asking the interpreter who
  // it is (a process start): the entry of the identity seen last time is checked meanwhile, and
  // its result used only if the interpreter turns out to be the same.
  const identityCache = path.join(options.cacheRoot ?? buildCacheRoot(), 'python-identity.json');
  const identitySlot = JSON.stringify([options.pipPython, process.env.PATH ?? '', process.env.PYENV_VERSION ?? '', process.env.VIRTUAL_ENV ?? '', options.cwd]);
  let remembered: Record<string, PythonIdentity> = {};
  try {
    remembered = JSON.parse(fs.readFileSync(identityCache, 'utf8')) as Record<string, PythonIdentity>;
  } catch {
    // first build with this cache
  }
  const guess = options.useCache ? remembered[identitySlot] : undefined;
  const inspect = async (candidate: PythonIdentity): Promise<{ key: string | null; problem: string | null; refreshed: ReturnType<typeof refreshLocalProjects> }> => {
    const candidateKey = pipCacheKey(options.pipArgs, options.cwd, candidate);
    if (candidateKey === null || !fs.existsSync(path.join(cacheRoot, candidateKey, 'complete'))) return { key: candidateKey, problem: 'absent', refreshed: null };
    const problem = await checkManifest(path.join(cacheRoot, candidateKey));
    return { key: candidateKey, problem, refreshed: problem === null ? refreshLocalProjects(path.join(cacheRoot, candidateKey), projects) : null };
  };
  const guessed = guess !== undefined ? await inspect(guess) : null;
  const identity = await identityPromise;
  const sameAsGuess = guess !== undefined && JSON.stringify(guess) === JSON.stringify(identity);
  if (!sameAsGuess && options.useCache) {
    try {
      fs.mkdirSync(path.dirname(identityCache), { recursive: true, mode: 0o700 });
      const temporary = `${identityCache}.${process.pid}.tmp`;
      fs.writeFileSync(temporary, JSON.stringify({ ...remembered, [identitySlot]: identity }));
      fs.renameSync(temporary, identityCache);
    } catch {
      // only costs the overlap next time
    }
  }
  const inspected = sameAsGuess ? guessed! : options.useCache ? await inspect(identity) : null;
  const key = options.useCache ? inspected!.key : null;

  if (key !== null) {
    const entry = path.join(cacheRoot, key);
    if (inspected!.problem !== 'absent') {
      const problem = inspected!.problem;
      const refreshed = inspected!.refreshed;
      if (refreshed !== null) {
        options.log.info(`pip: dependency cache hit (${key}), pip not run${refreshed.overrides.size > 0 ? `; ${projects.length} local project(s) taken from their sources` : ''}`);
        return { directory: path.join(entry, 'site'), ran: false, ...refreshed, dispose: async () => {} };
      }
      if (problem !== null) options.log.warn(`pip: dependency cache entry ${entry} is damaged (${problem}); reinstalling`);
      else options.log.info('pip: a local project changed beyond its copied source files; running pip');
      const aside = `${entry}.${process.pid}.${randomBytes(4).toString('hex')}.old`;
      try {
        fs.renameSync(entry, aside);
        fs.rmSync(aside, { recursive: true, force: true });
      } catch {
        // Another build is replacing it too; ours goes through the same rename below.
      }
    }
    fs.mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
    const temporary = path.join(cacheRoot, `.${key}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      fs.mkdirSync(temporary, { mode: 0o700 });
      options.onPipRun?.();
      await runPip(options.pipPython, path.join(temporary, 'site'), options.pipArgs, options.cwd, options.log, options.signal);
      const local = projects.length > 0 ? recordLocalProjects(path.join(temporary, 'site'), projects) : [];
      fs.writeFileSync(path.join(temporary, 'local.json'), JSON.stringify(local ?? projects.map((root) => ({ root, distInfo: '', mappings: [], otherContentHash: otherContentHash(root, new Set()) }))));
      await writeManifest(temporary);
      fs.writeFileSync(path.join(temporary, 'complete'), `${new Date().toISOString()}\n${options.pipArgs.join(' ')}\n`);
      try {
        fs.renameSync(temporary, entry);
      } catch {
        // Another build published the same key first; its tree is equivalent.
        fs.rmSync(temporary, { recursive: true, force: true });
      }
      if (!fs.existsSync(path.join(entry, 'complete'))) throw new PyzError('INTERNAL', `dependency cache entry ${entry} is incomplete`, { value: entry, fix: 'run `pyz cache prune --build` and retry' });
      return { directory: path.join(entry, 'site'), ran: true, ...(refreshLocalProjects(entry, projects) ?? none), dispose: async () => {} };
    } catch (error) {
      fs.rmSync(temporary, { recursive: true, force: true });
      throw error;
    }
  }

  if (options.useCache) options.log.info('pip: requirements include VCS or remote URLs; dependency cache not used');
  const temporary = fs.mkdtempSync(path.join(os.tmpdir(), 'pyz-pip-'));
  try {
    options.onPipRun?.();
    await runPip(options.pipPython, temporary, options.pipArgs, options.cwd, options.log, options.signal);
  } catch (error) {
    fs.rmSync(temporary, { recursive: true, force: true });
    throw error;
  }
  return { directory: temporary, ran: true, ...none, dispose: async () => fs.promises.rm(temporary, { recursive: true, force: true }) };
}

/**
 * For a cache entry installed from local projects: the installed files to take from the
 * projects' current sources (and RECORD files rewritten to match), or null when a project changed
 * in a way only pip can follow (any file that is not a verbatim copy, or the set of files).
 */
function refreshLocalProjects(entry: string, projects: readonly string[]): { overrides: Map<string, string>; generated: Map<string, Buffer> } | null {
  const overrides = new Map<string, string>();
  const generated = new Map<string, Buffer>();
  if (projects.length === 0) return { overrides, generated };
  let records: LocalProjectRecord[];
  try {
    records = JSON.parse(fs.readFileSync(path.join(entry, 'local.json'), 'utf8')) as LocalProjectRecord[];
  } catch {
    return null;
  }
  if (records.length !== projects.length || records.some((record, index) => record.root !== projects[index])) return null;
  const site = path.join(entry, 'site');
  for (const record of records) {
    if (otherContentHash(record.root, new Set(record.mappings.map(([, source]) => source))) !== record.otherContentHash) return null;
    const changed = new Map<string, Buffer>();
    for (const [installed, source] of record.mappings) {
      const sourcePath = path.join(record.root, source);
      overrides.set(installed, sourcePath);
      const current = fs.readFileSync(sourcePath);
      if (!current.equals(fs.readFileSync(path.join(site, installed)))) changed.set(installed, current);
    }
    if (changed.size > 0 && record.distInfo !== '') {
      const recordFile = `${record.distInfo}/RECORD`;
      generated.set(recordFile, rewriteRecord(fs.readFileSync(path.join(site, recordFile), 'utf8'), changed));
    }
  }
  return { overrides, generated };
}

/** Lists pip cache entries (for `pyz cache list --build`). */
export async function listPipCache(cacheRoot: string = buildCacheRoot()): Promise<{ key: string; path: string; files: number; bytes: number; mtime: Date }[]> {
  const root = path.join(cacheRoot, 'pip');
  let names: string[];
  try {
    names = await fs.promises.readdir(root);
  } catch {
    return [];
  }
  const entries = [];
  for (const name of names.sort()) {
    const entryPath = path.join(root, name);
    if (name.startsWith('.')) continue;
    const files = await walkTree(path.join(entryPath, 'site')).catch(() => []);
    const stat = await fs.promises.stat(entryPath);
    entries.push({ key: name, path: entryPath, files: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0), mtime: stat.mtime });
  }
  return entries;
}
