// The runtime cache of the Python bootstrap: layout, completeness and repair, locking, concurrent
// starts, crashes, forced re-extraction, clean-up of older builds, HOME fallback and start-up cost.
// Tests named "SPEC §3: …" follow a row of the SPEC table and would fail on shiv's runtime.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BOOTSTRAP_SOURCE,
  CORRUPT_MEMBER,
  DEMO_FILES,
  EXTRACT_CHECK,
  type FileSpec,
  buildArchive,
  buildStandIn,
  findPython,
  inProcessRun,
  listDirectory,
  makeTemporaryDirectory,
  removeDirectory,
  runEnvironment,
  runPyz,
  runPyzAsync,
  writeTree,
} from './python/bootstrap-harness.js';

const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

async function waitFor(condition: () => boolean, timeout = 30_000, interval = 5): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(interval);
  }
}

describe.each(['3.8', '3.13'])('bootstrap cache on python%s', (version) => {
  const python = findPython(version);
  let workspace: string;
  let sitePackages: string;
  let pyz: string;
  let buildId: string;

  beforeAll(async () => {
    workspace = makeTemporaryDirectory(`cache-${version}`);
    sitePackages = writeTree(join(workspace, 'site-packages'), DEMO_FILES);
    pyz = join(workspace, 'app.pyz');
    buildId = await buildArchive({ output: pyz, sitePackages, entryPoint: 'demo:main' });
  });
  afterAll(() => removeDirectory(workspace));

  function freshRoot(label: string): string {
    const root = join(workspace, `root-${label}`);
    removeDirectory(root);
    return root;
  }

  it('extracts to <root>/<stem>_<build_id>/site-packages with CACHEDIR.TAG, private dirs, 0600 lock', () => {
    const root = freshRoot('layout');
    const result = runPyz(python, pyz, [], { environment: { SHIV_ROOT: root } });
    expect(result.status).toBe(0);
    const directory = `app_${buildId}`;
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', directory, `${directory}.lock`]);
    expect(readFileSync(join(root, 'CACHEDIR.TAG'), 'utf8').startsWith(CACHEDIR_SIGNATURE)).toBe(true);
    expect(statSync(root).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, directory)).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, `${directory}.lock`)).mode & 0o777).toBe(0o600);
    expect(statSync(join(root, directory, 'site-packages', 'bin', 'demo-bin')).mode & 0o111).not.toBe(0);
    expect(statSync(join(root, directory, 'site-packages', 'demo', 'data.txt')).mode & 0o111).toBe(0);
    expect(readFileSync(join(root, directory, 'site-packages', 'demo', 'data.txt'), 'utf8')).toBe('payload-data\n');
  });

  it('SPEC §3: a partly deleted cache is detected on start and repaired automatically', () => {
    const root = freshRoot('repair');
    const environment = { SHIV_ROOT: root };
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    const site = join(root, `app_${buildId}`, 'site-packages');
    // A single file deep in the tree (tmp cleaners do this), then a whole package.
    rmSync(join(site, 'demo', 'late.py'));
    const lateCode = 'import demo.late; print(demo.late.VALUE)';
    expect(runPyz(python, pyz, [], { environment: { ...environment, SHIV_INTERPRETER: '1' }, input: lateCode })).toMatchObject({ stdout: 'payload-data\n', status: 0 });
    rmSync(join(site, 'demo'), { recursive: true });
    expect(runPyz(python, pyz, ['x'], { environment }).stdout).toBe(`main argv=${JSON.stringify([pyz, 'x'])}\n`);
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
  });

  it('bytecode Python writes into the cache after extraction does not count as damage', () => {
    const root = freshRoot('pycache');
    const environment = { SHIV_ROOT: root, PYTHONDONTWRITEBYTECODE: undefined };
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    const extraction = join(root, `app_${buildId}`);
    const inode = statSync(join(extraction, 'site-packages')).ino;
    expect(existsSync(join(extraction, 'site-packages', 'demo', '__pycache__'))).toBe(true);
    const manifestBefore = readFileSync(join(extraction, '.pyz-manifest.json'), 'utf8');
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    // Not re-extracted (same directory), and the new mtimes were recorded once.
    expect(statSync(join(extraction, 'site-packages')).ino).toBe(inode);
    expect(readFileSync(join(extraction, '.pyz-manifest.json'), 'utf8')).not.toBe(manifestBefore);
  });

  it('SPEC §3: 16 processes starting at once on an empty cache all succeed, leaving one complete copy', async () => {
    const root = freshRoot('concurrent');
    const runs = await Promise.all(
      Array.from({ length: 16 }, (_unused, index) => runPyzAsync(python, pyz, [String(index)], { environment: { SHIV_ROOT: root } })),
    );
    for (const [index, result] of runs.entries()) {
      expect(result.stderr).toBe('');
      expect(result.stdout).toBe(`main argv=${JSON.stringify([pyz, String(index)])}\n`);
      expect(result.status).toBe(0);
    }
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
  });

  it('SPEC §3: lock waits are bounded, with an error naming the lock file', async () => {
    const root = freshRoot('lock');
    mkdirSync(root, { recursive: true });
    const lockPath = join(root, `app_${buildId}.lock`);
    // Another process holds the build lock (as a stuck extraction would).
    const holder = spawn(python, ['-c', `import fcntl, sys, time\nf = open(${JSON.stringify(lockPath)}, "a")\nfcntl.flock(f, fcntl.LOCK_EX)\nprint("locked", flush=True)\ntime.sleep(60)`]);
    try {
      await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
      const started = Date.now();
      const result = runPyz(python, pyz, [], { environment: { SHIV_ROOT: root, SHIV_LOCK_TIMEOUT: '0.5' } });
      expect(Date.now() - started).toBeLessThan(20_000);
      expect(result.stderr).toBe(
        `pyz: error: LOCK_TIMEOUT: waited 0.5 s for the cache lock ${lockPath}\n` +
          `  fix: another process is extracting this app; if none is, raise SHIV_LOCK_TIMEOUT or delete ${lockPath}\n`,
      );
      expect(result.status).toBe(70);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('SPEC §3: SHIV_FORCE_EXTRACT swaps a fresh copy in atomically; a running process is unaffected', async () => {
    const root = freshRoot('force');
    const flag = join(workspace, `force-flag-${version}`);
    const environment = { SHIV_ROOT: root };
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    const before = statSync(join(root, `app_${buildId}`)).ino;
    const running = runPyzAsync(python, pyz, [], { environment: { ...environment, SHIV_ENTRY_POINT: 'demo:wait_then_import', DEMO_FLAG: flag } });
    await waitFor(() => existsSync(`${flag}.started`));
    const forced = runPyz(python, pyz, [], { environment: { ...environment, SHIV_FORCE_EXTRACT: 'true' } });
    expect(forced.status).toBe(0);
    expect(statSync(join(root, `app_${buildId}`)).ino).not.toBe(before);
    // The old copy is still there for the running process (it holds it in use).
    expect(listDirectory(root).filter((name) => name.endsWith('.old'))).toHaveLength(1);
    writeFileSync(flag, '');
    const result = await running;
    expect(result).toMatchObject({ stdout: 'late=payload-data\n', status: 0 });
    // Once nobody uses it, the next start removes it.
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
  });

  it('SPEC §3: repeated SHIV_FORCE_EXTRACT never leaves the cache path missing for a process importing lazily in a loop', async () => {
    const root = freshRoot('force-stress');
    const LAZY = 60;
    const files: Record<string, FileSpec> = {
      'stress/__init__.py': [
        'import importlib, os, sys, time',
        'def main():',
        '    here = os.path.dirname(os.path.abspath(__file__))',
        '    stop = os.environ["STRESS_STOP"]',
        '    open(stop + ".started", "w").close()',
        '    imported = errors = loops = 0',
        '    first = None',
        '    deadline = time.time() + 60',
        `    while (imported < ${LAZY} or not os.path.exists(stop)) and time.time() < deadline:`,
        '        loops += 1',
        '        try:',
        `            if imported < ${LAZY}:`,
        '                assert importlib.import_module("stress.lazy.m%d" % imported).VALUE == imported',
        '                imported += 1',
        `            with open(os.path.join(here, "lazy", "m%d.py" % (loops % ${LAZY})), "rb") as f:`,
        '                assert f.read().startswith(b"VALUE = ")',
        '            os.listdir(os.path.join(here, "lazy"))',
        '        except Exception as error:',
        '            errors += 1',
        '            first = first or repr(error)',
        '    print("imported=%d errors=%d first=%s loops=%d" % (imported, errors, first, loops))',
        '',
      ].join('\n'),
      'stress/lazy/__init__.py': '',
    };
    for (let index = 0; index < LAZY; index += 1) files[`stress/lazy/m${index}.py`] = `VALUE = ${index}\n`;
    const stressSite = writeTree(join(workspace, `stress-site-${version}`), files);
    const stressPyz = join(workspace, 'stress.pyz');
    const stressId = await buildArchive({ output: stressPyz, sitePackages: stressSite, entryPoint: 'stress:main' });
    const stop = join(workspace, `stress-stop-${version}`);
    const environment = { SHIV_ROOT: root, PYTHONDONTWRITEBYTECODE: '1' };
    writeFileSync(`${stop}.unused`, ''); // runs other than the long-running one stop at once
    expect(runPyz(python, stressPyz, [], { environment: { ...environment, STRESS_STOP: `${stop}.unused` } }).status).toBe(0);
    const running = runPyzAsync(python, stressPyz, [], { environment: { ...environment, STRESS_STOP: stop } });
    await waitFor(() => existsSync(`${stop}.started`));
    let swaps = 0;
    for (let round = 0; round < 5; round += 1) {
      const before = statSync(join(root, `stress_${stressId}`)).ino;
      const forced = await runPyzAsync(python, stressPyz, [], { environment: { ...environment, SHIV_FORCE_EXTRACT: '1', STRESS_STOP: `${stop}.unused` } });
      expect(forced.status).toBe(0);
      if (statSync(join(root, `stress_${stressId}`)).ino !== before) swaps += 1;
    }
    writeFileSync(stop, '');
    const result = await running;
    expect(swaps).toBe(5); // five fresh copies swapped in
    expect(result.stdout).toMatch(new RegExp(`^imported=${LAZY} errors=0 first=None loops=\\d+\\n$`));
    expect(result.status).toBe(0);
  });

  it('an extraction dir planted as a symlink is never followed: moved aside (link only) and re-extracted', () => {
    const root = freshRoot('planted');
    const environment = { SHIV_ROOT: root, SHIV_ENTRY_POINT: 'demo:where' };
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    const extraction = join(root, `app_${buildId}`);
    const elsewhere = join(workspace, `planted-${version}`);
    removeDirectory(elsewhere);
    // A complete copy with its mtimes: it passes the manifest check if followed.
    expect(spawnSync('cp', ['-a', extraction, elsewhere]).status).toBe(0);
    rmSync(extraction, { recursive: true });
    symlinkSync(elsewhere, extraction);
    const result = runPyz(python, pyz, [], { environment });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`pyz: warning: the cache directory ${extraction} is a symbolic link`);
    const file = JSON.parse(result.stdout).file as string;
    expect(realpathSync(file).startsWith(elsewhere)).toBe(false);
    expect(lstatSync(extraction).isDirectory()).toBe(true);
    // The link went away with clean-up; its target was not touched.
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
    expect(existsSync(join(elsewhere, 'site-packages', 'demo', '__init__.py'))).toBe(true);
    removeDirectory(elsewhere);
  });

  it('an extraction dir owned by another user is not used: moved aside and re-extracted (needs root for chown, as CI runs)', () => {
    const root = freshRoot('foreign');
    const environment = { SHIV_ROOT: root, SHIV_ENTRY_POINT: 'demo:where' };
    expect(runPyz(python, pyz, [], { environment }).status).toBe(0);
    const extraction = join(root, `app_${buildId}`);
    expect(spawnSync('chown', ['-R', '65534:65534', extraction]).status).toBe(0);
    const result = runPyz(python, pyz, [], { environment });
    expect(result.status).toBe(0);
    expect(result.stderr).toContain(`pyz: warning: the cache directory ${extraction} is owned by uid 65534, not by uid 0`);
    expect(statSync(JSON.parse(result.stdout).file as string).uid).toBe(0);
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
  });

  it('a file truncated or emptied in place is noticed (sizes checked on a thread) and repaired', () => {
    const root = freshRoot('truncated');
    const lateCode = 'import demo.late; print(demo.late.VALUE)';
    const interpreter = { SHIV_ROOT: root, SHIV_INTERPRETER: '1' };
    expect(runPyz(python, pyz, [], { environment: interpreter, input: lateCode }).stdout).toBe('payload-data\n');
    const site = join(root, `app_${buildId}`, 'site-packages');
    const inode = statSync(site).ino;
    // Emptied in place: no directory mtime moves. A small app is verified before its code runs
    // (the start waits a few ms for the thread), so this start already repairs.
    writeFileSync(join(site, 'demo', 'data.txt'), '');
    const repaired = runPyz(python, pyz, [], { environment: interpreter, input: lateCode });
    expect(repaired).toMatchObject({ stdout: 'payload-data\n', status: 0 });
    expect(statSync(join(root, `app_${buildId}`, 'site-packages')).ino).not.toBe(inode);
    expect(readFileSync(join(root, `app_${buildId}`, 'site-packages', 'demo', 'data.txt'), 'utf8')).toBe('payload-data\n');
  });

  it('damage found after the start went on is reported on stderr and repaired on the next start', () => {
    const root = freshRoot('truncated-late');
    const environment = { SHIV_ROOT: root, SHIV_INTERPRETER: '1' };
    const lateCode = 'import demo.late; print(demo.late.VALUE)';
    expect(runPyz(python, pyz, [], { environment, input: lateCode }).status).toBe(0);
    const extraction = join(root, `app_${buildId}`);
    writeFileSync(join(extraction, 'site-packages', 'demo', 'late.py'), 'VALUE = "trunc');
    // Simulates a verification slower than the start's wait (a large app): run the thread's
    // check as the warm path does once it has gone on, from the package itself.
    const check = spawnSync(python, ['-c', 'import sys; sys.path.insert(0, sys.argv[1]); import _pyz_bootstrap as b; p = b.verify_files(sys.argv[2]); print(p); b._report_damage(sys.argv[2], p)', BOOTSTRAP_SOURCE, extraction], { encoding: 'utf8' });
    const problem = `demo/late.py has 14 bytes, expected ${Buffer.byteLength(DEMO_FILES['demo/late.py'] as string)}`;
    expect(check.stdout).toBe(`${problem}\n`);
    expect(check.stderr).toBe(`pyz: warning: cache damaged (${problem} in ${extraction}); it will be repaired on the next start\n`);
    expect(existsSync(join(extraction, '.pyz-manifest.json'))).toBe(false);
    expect(runPyz(python, pyz, [], { environment, input: lateCode })).toMatchObject({ stdout: 'payload-data\n', status: 0 });
  });

  it('SPEC §3: older extractions of the same app are removed, never one in use', async () => {
    const root = freshRoot('older');
    const flag = join(workspace, `older-flag-${version}`);
    const environment = { SHIV_ROOT: root };
    const versions = join(workspace, `versions-${version}`);
    const build = (label: string): Promise<string> => {
      const tree = writeTree(join(versions, label), { ...DEMO_FILES, 'demo/version.txt': `${label}\n` });
      return buildArchive({ output: join(versions, 'app.pyz'), sitePackages: tree, entryPoint: 'demo:main' });
    };
    const first = await build('one');
    const appPath = join(versions, 'app.pyz');
    expect(runPyz(python, appPath, [], { environment }).status).toBe(0);
    const second = await build('two');
    const running = runPyzAsync(python, appPath, [], { environment: { ...environment, SHIV_ENTRY_POINT: 'demo:wait_then_import', DEMO_FLAG: flag } });
    await waitFor(() => existsSync(`${flag}.started`));
    const third = await build('three');
    expect(runPyz(python, appPath, [], { environment }).status).toBe(0);
    // The first build is gone, the second is in use and stays; a directory of another app stays.
    expect(listDirectory(root).filter((name) => !name.endsWith('.lock'))).toEqual(['CACHEDIR.TAG', `app_${second}`, `app_${third}`].sort());
    expect(listDirectory(root)).not.toContain(`app_${first}.lock`);
    writeFileSync(flag, '');
    expect(await running).toMatchObject({ stdout: 'late=payload-data\n', status: 0 });
    expect(runPyz(python, appPath, [], { environment }).status).toBe(0);
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `app_${third}`, `app_${third}.lock`]);
  });

  it('SPEC §3: HOME not writable or missing — falls back to a private per-user directory with a warning', () => {
    const temporary = join(workspace, `tmp-${version}`);
    mkdirSync(temporary, { recursive: true });
    const notADirectory = join(workspace, 'home-is-a-file');
    writeFileSync(notADirectory, '');
    for (const home of [join(notADirectory, 'home'), join(notADirectory, 'other')]) {
      removeDirectory(join(temporary, `pyz-${process.getuid!()}`));
      const environment = { HOME: home, TMPDIR: temporary };
      const first = runPyz(python, pyz, ['a'], { environment });
      expect(first.stdout).toBe(`main argv=${JSON.stringify([pyz, 'a'])}\n`);
      expect(first.status).toBe(0);
      const fallback = join(temporary, `pyz-${process.getuid!()}`);
      expect(first.stderr).toContain(`pyz: warning: `);
      expect(first.stderr).toContain(`extracting to the private directory ${fallback} instead`);
      expect(statSync(fallback).mode & 0o777).toBe(0o700);
      expect(listDirectory(fallback)).toContain(`app_${buildId}`);
      const second = runPyz(python, pyz, ['b'], { environment });
      expect(second).toMatchObject({ stderr: '', status: 0 });
    }
  });

  /**
   * Runs the archive as a user of our choosing without privileges over our files: in a new user
   * namespace (unshare) where our uid appears as `uid`. Root bypasses permission bits; a mapped
   * user does not, and a uid with no passwd entry has no home directory to fall back on.
   */
  function runAsUser(uid: number, environment: Record<string, string | undefined>, args: string[]) {
    const entries = Object.entries(environment);
    const unset = entries.filter(([, value]) => value === undefined).flatMap(([key]) => ['-u', key]);
    const set = entries.filter(([, value]) => value !== undefined).map(([key, value]) => `${key}=${value}`);
    const command = ['--user', `--map-user=${uid}`, `--map-group=${uid}`, 'env', ...unset, ...set, python, pyz, ...args];
    const result = spawnSync('unshare', command, { env: runEnvironment({}), encoding: 'utf8' });
    if (result.error) throw result.error;
    return result;
  }

  /** A uid without a passwd entry (getent passwd fails for it). */
  function uidWithoutPasswdEntry(): number {
    for (let uid = 54321; uid < 54400; uid += 1) {
      if (spawnSync('getent', ['passwd', String(uid)]).status === 2) return uid;
    }
    throw new Error('no free uid found');
  }

  it('SPEC §3: HOME unset and no passwd entry (no home at all) — falls back to the private per-user directory with a warning', () => {
    const uid = uidWithoutPasswdEntry();
    const temporary = join(workspace, `tmp-nohome-${version}`);
    mkdirSync(temporary, { recursive: true });
    const fallback = join(temporary, `pyz-${uid}`);
    const environment = { HOME: undefined, TMPDIR: temporary, SHIV_ROOT: undefined };
    const first = runAsUser(uid, environment, ['a']);
    expect(first.stderr).toBe(
      `pyz: warning: no home directory (HOME is not set and uid ${uid} has no passwd entry); extracting to the private directory ${fallback} instead\n` +
        '  fix: make HOME a writable directory, or set SHIV_ROOT\n',
    );
    expect(first.stdout).toBe(`main argv=${JSON.stringify([pyz, 'a'])}\n`);
    expect(first.status).toBe(0);
    expect(statSync(fallback).mode & 0o777).toBe(0o700);
    expect(listDirectory(fallback)).toEqual(['CACHEDIR.TAG', `app_${buildId}`, `app_${buildId}.lock`]);
    // Warm start from the fallback: silent.
    expect(runAsUser(uid, environment, ['b'])).toMatchObject({ stderr: '', stdout: `main argv=${JSON.stringify([pyz, 'b'])}\n`, status: 0 });
  });

  it('SPEC §3: ~/.shiv exists but is not writable — falls back with a warning naming it', () => {
    const home = join(workspace, `home-readonly-${version}`);
    const temporary = join(workspace, `tmp-readonly-${version}`);
    mkdirSync(join(home, '.shiv'), { recursive: true });
    mkdirSync(temporary, { recursive: true });
    chmodSync(join(home, '.shiv'), 0o555);
    try {
      const uid = uidWithoutPasswdEntry();
      const fallback = join(temporary, `pyz-${uid}`);
      const environment = { HOME: home, TMPDIR: temporary, SHIV_ROOT: undefined };
      const first = runAsUser(uid, environment, []);
      expect(first.stderr).toBe(
        `pyz: warning: cannot use ${join(home, '.shiv')} (Permission denied); extracting to the private directory ${fallback} instead\n` +
          '  fix: make HOME a writable directory, or set SHIV_ROOT\n',
      );
      expect(first.status).toBe(0);
      expect(listDirectory(fallback)).toContain(`app_${buildId}`);
      expect(listDirectory(join(home, '.shiv'))).toEqual([]);
      expect(runAsUser(uid, environment, [])).toMatchObject({ stderr: '', status: 0 });
    } finally {
      chmodSync(join(home, '.shiv'), 0o755);
    }
  });

  it('an explicit root that cannot be written is a clear error (no silent fallback)', () => {
    const file = join(workspace, 'root-is-a-file');
    writeFileSync(file, '');
    const result = runPyz(python, pyz, [], { environment: { SHIV_ROOT: join(file, 'cache') } });
    expect(result.stderr).toMatch(/^pyz: error: CACHE_NOT_WRITABLE: cannot use cache root .*root-is-a-file\/cache: Not a directory\n {2}fix: set SHIV_ROOT/);
    expect(result.status).toBe(70);
  });
});

describe('bootstrap cache with a large payload (python3.11)', () => {
  const python = findPython('3.11');
  let workspace: string;
  let bigPyz: string;
  let smallPyz: string;
  let bigBuildId: string;
  const FILES = 5000;
  // Directories without code, like Django's ~2,300 locale directories: the warm check samples them.
  const DATA_DIRECTORIES = 1500;

  beforeAll(async () => {
    workspace = makeTemporaryDirectory('large');
    const files: Record<string, string> = { 'demo/__init__.py': 'def main():\n    return 0\n' };
    for (let index = 0; index < FILES; index += 1) {
      files[`pkg${String(index % 100).padStart(3, '0')}/mod${String(index).padStart(4, '0')}.py`] = `VALUE = ${index}\n${'# filler line\n'.repeat(index % 40)}`;
    }
    for (let index = 0; index < DATA_DIRECTORIES; index += 1) files[`locale/l${String(index).padStart(4, '0')}/messages.mo`] = `message ${index}\n`;
    bigPyz = join(workspace, 'big.pyz');
    bigBuildId = await buildArchive({ output: bigPyz, sitePackages: writeTree(join(workspace, 'big'), files), entryPoint: 'demo:main' });
    smallPyz = join(workspace, 'small.pyz');
    await buildArchive({ output: smallPyz, sitePackages: writeTree(join(workspace, 'small'), { 'demo/__init__.py': 'def main():\n    return 0\n' }), entryPoint: 'demo:main' });
  });
  afterAll(() => removeDirectory(workspace));

  it('SPEC §3: a run killed mid-extraction is followed by a successful run that cleans the leftovers', async () => {
    const root = join(workspace, 'root-kill');
    let killedMidway = false;
    for (let attempt = 0; attempt < 5 && !killedMidway; attempt += 1) {
      removeDirectory(root);
      const child = spawn(python, [bigPyz], { env: runEnvironment({ SHIV_ROOT: root }), stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      const temporary = (): string | undefined => listDirectory(root).find((name) => name.endsWith('.tmp'));
      // Kill once the extraction has written some files.
      await Promise.race([
        waitFor(() => {
          const name = temporary();
          return name !== undefined && listDirectory(join(root, name, 'site-packages')).length > 5;
        }, 20_000, 1),
        exited,
      ]);
      child.kill('SIGKILL');
      await exited;
      killedMidway = temporary() !== undefined && !listDirectory(root).includes(`big_${bigBuildId}`);
    }
    expect(killedMidway).toBe(true);
    const result = runPyz(python, bigPyz, [], { environment: { SHIV_ROOT: root } });
    expect(result).toMatchObject({ stderr: '', status: 0 });
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `big_${bigBuildId}`, `big_${bigBuildId}.lock`]);
    const extracted = spawnSync('find', [join(root, `big_${bigBuildId}`, 'site-packages'), '-type', 'f'], { encoding: 'utf8' });
    expect(extracted.stdout.trim().split('\n')).toHaveLength(FILES + DATA_DIRECTORIES + 1);
  });

  it('SPEC §3: warm start-up work does not depend on archive size (the payload is never read)', () => {
    // Timing belongs in bench/ (npm run bench -- --suite runtime); here the work is counted
    // instead: bytes the process reads (/proc/self/io rchar) on a warm start, measured in-process
    // around the same code path `python app.pyz` takes (runpy on the archive).
    const root = join(workspace, 'root-work');
    const environment = runEnvironment({ SHIV_ROOT: root });
    for (const archive of [bigPyz, smallPyz]) expect(spawnSync(python, [archive], { env: environment }).status).toBe(0);
    const driver = inProcessRun(
      [],
      ['rchar = [line for line in open("/proc/self/io") if line.startswith("rchar")][0].split()[1]', 'sys.stderr.write("RCHAR %s\\n" % rchar)'],
    );
    const bytesRead = (archive: string): number => {
      const result = spawnSync(python, ['-c', driver, archive], { env: environment, encoding: 'utf8' });
      const match = /RCHAR (\d+)/.exec(result.stderr);
      if (!match) throw new Error(result.stderr);
      return Number(match[1]);
    };
    const payloadBytes = statSync(bigPyz).size;
    const big = Math.min(bytesRead(bigPyz), bytesRead(bigPyz));
    const small = Math.min(bytesRead(smallPyz), bytesRead(smallPyz));
    // The big archive's warm start reads its manifest (one line per checked directory) and, on
    // the verification thread, at most a 48 KB slice of its file record; never the payload and
    // never the whole listing: a small fraction of the archive, and bounded.
    const listingBytes = statSync(join(root, `big_${bigBuildId}`, '.pyz-listing.json')).size;
    expect(payloadBytes).toBeGreaterThan(500_000);
    expect(big - small).toBeLessThan(payloadBytes / 4);
    expect(big - small).toBeLessThan(listingBytes);
  });

  it('SPEC §3: a file deleted anywhere is noticed: at once among code, within a few starts among data', () => {
    const root = join(workspace, 'root-sampled');
    removeDirectory(root);
    const environment = { SHIV_ROOT: root };
    expect(runPyz(python, bigPyz, [], { environment })).toMatchObject({ stderr: '', status: 0 });
    const site = join(root, `big_${bigBuildId}`, 'site-packages');
    // Code (one of 101 directories with .py files): every start checks it, so the next one repairs.
    rmSync(join(site, 'pkg057', 'mod4957.py'));
    const code = 'import pkg057.mod4957 as m; print(m.VALUE)';
    expect(runPyz(python, bigPyz, [], { environment: { ...environment, SHIV_INTERPRETER: '1' }, input: code })).toMatchObject({ stdout: '4957\n', status: 0 });
    // Data (one of 1,501 directories without code, sampled 128 at a time at a random offset):
    // seen by a start with probability 128/1501, missed by all of 150 starts with p ~ 2e-6.
    const data = join(site, 'locale', 'l0777', 'messages.mo');
    rmSync(data);
    let starts = 0;
    while (!existsSync(data) && starts < 150) {
      expect(runPyz(python, bigPyz, [], { environment }).status).toBe(0);
      starts += 1;
    }
    expect(readFileSync(data, 'utf8')).toBe('message 777\n');
    expect(listDirectory(root)).toEqual(['CACHEDIR.TAG', `big_${bigBuildId}`, `big_${bigBuildId}.lock`]);
  });
});

describe.each(['3.8', '3.13'])('payload extraction on python%s', (version) => {
  const python = findPython(version);
  let workspace: string;
  const archives: Record<string, string> = {};
  const LARGE = 6 * 1024 * 1024; // above the extractor's 4 MiB one-shot limit: streamed in chunks

  beforeAll(async () => {
    workspace = makeTemporaryDirectory(`extract-${version}`);
    const files: Record<string, FileSpec> = {
      'demo/__init__.py': 'def main():\n    return 0\n',
      'demo/empty.txt': '',
      'bin/tool': { text: '#!/bin/sh\necho tool\n', mode: 0o755 },
      'données/é.txt': 'utf-8 name\n',
      'demo/compressible.txt': 'all work and no play\n'.repeat(LARGE / 21),
      'zz/last.txt': 'the last member, in the last chunk: the first one the first forked worker takes\n'.repeat(100),
    };
    for (let index = 0; index < 400; index += 1) files[`pkg${index % 13}/sub${index % 3}/m${index}.py`] = `VALUE = ${index}\n${'# line\n'.repeat(index % 50)}`;
    const site = writeTree(join(workspace, 'site'), files);
    writeFileSync(join(site, 'demo', 'random.bin'), randomBytes(LARGE)); // deflate cannot shrink it: stored
    archives.app = join(workspace, 'app.pyz');
    await buildArchive({ output: archives.app, sitePackages: site, entryPoint: 'demo:main' });
    // A one-member payload: corrupting it leaves nothing else to extract first.
    const small = writeTree(join(workspace, 'small-site'), { 'demo/__init__.py': 'def main():\n    return 0\n' });
    archives.small = join(workspace, 'small.pyz');
    await buildArchive({ output: archives.small, sitePackages: small, entryPoint: 'demo:main' });
  });
  afterAll(() => removeDirectory(workspace));

  interface CheckReport {
    files?: number;
    largest?: number;
    results?: Record<string, string>;
    error?: [string, string];
  }

  /** extract_check.py: extracts with each WORKERS:MODE and compares with Python's zipfile. */
  function check(archive: string, ways: string[]): { status: number | null; report: CheckReport } {
    const workdir = makeTemporaryDirectory('check');
    try {
      const result = spawnSync(python, [EXTRACT_CHECK, archive, workdir, ...ways], { env: runEnvironment({}), encoding: 'utf8', timeout: 120_000 });
      if (!result.stdout) throw new Error(`extract_check.py failed: ${result.stderr}`);
      return { status: result.status, report: JSON.parse(result.stdout) as CheckReport };
    } finally {
      removeDirectory(workdir);
    }
  }

  it("one worker, forked workers and threads all give the tree Python's zipfile reads (bytes, names, exec bits, listing)", () => {
    const { status, report } = check(archives.app!, ['1:fork', '2:fork', '3:thread', '4:fork']);
    expect(report.results).toEqual({ '1:fork': 'same', '2:fork': 'same', '3:thread': 'same', '4:fork': 'same' });
    expect(report.files).toBe(407);
    expect(report.largest).toBe(LARGE);
    expect(status).toBe(0);
  });

  it('explicit directory members (a stand-in archive: the builder writes none) are created, empty ones too', () => {
    const standIn = join(workspace, 'directories.pyz');
    const members = [{ name: 'empty/nested/', mode: 0o40755 }, { name: 'demo/', mode: 0o40755 }, { name: 'zz/inner/', mode: 0o40755 }];
    buildStandIn({ output: standIn, sitePackages: writeTree(join(workspace, 'directories-site'), DEMO_FILES), members, environment: { entry_point: 'demo:main' } });
    const { status, report } = check(standIn, ['1:fork', '2:fork', '2:thread']);
    expect(report.results).toEqual({ '1:fork': 'same', '2:fork': 'same', '2:thread': 'same' });
    expect(status).toBe(0);
  });

  it.each([
    ['a small deflated member (one read)', 'small', 'demo/__init__.py', '1:fork'],
    ['a large stored member (streamed)', 'app', 'demo/random.bin', '1:fork'],
    ['a large deflated member (streamed), with threads', 'app', 'demo/compressible.txt', '3:thread'],
    ["a member a forked worker extracts (the last chunk is its first)", 'app', 'zz/last.txt', '2:fork'],
  ])('a corrupt member is a clear error, and nothing is published: %s', (_label, source, member, way) => {
    const archive = join(workspace, 'damaged.pyz');
    copyFileSync(archives[source]!, archive);
    const corrupted = spawnSync(findPython('3.11'), [CORRUPT_MEMBER, archive, member], { encoding: 'utf8' });
    expect(corrupted.stderr).toBe('');
    const { status, report } = check(archive, [way]);
    expect(report.error?.[0]).toBe('ARCHIVE_INVALID');
    expect(report.error?.[1]).toContain(`payload member ${member} is corrupt: `);
    expect(status).toBe(3);
    // The app itself: the error, status 70, and no extraction (complete or partial) in the cache.
    const root = join(workspace, 'damaged-root');
    removeDirectory(root);
    const result = runPyz(python, archive, [], { environment: { SHIV_ROOT: root } });
    expect(result.stderr).toContain(`pyz: error: ARCHIVE_INVALID: ${archive}: payload member ${member} is corrupt: `);
    expect(result.stderr).toContain('\n  fix: ');
    expect(result.status).toBe(70);
    expect(listDirectory(root).filter((name) => !name.endsWith('.lock') && name !== 'CACHEDIR.TAG')).toEqual([]);
  });
});
