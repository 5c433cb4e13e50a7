#!/usr/bin/env node
/**
 * Reliability and security harness for pyz: concurrency, crashes, damaged caches, bad input,
 * hostile archives and a fuzzer for the zip reader — printed as a table of figures.
 *
 *   node scripts/reliability.mjs [--scale small|full] [--only NAME[,NAME…]] [--fuzz-seed N] [--keep]
 *
 * `small` (CI) runs a few rounds of each scenario, `full` the counts of the reliability issue
 * (16 processes × 20 rounds, 30 kills, 20 killed builds, 10,000 fuzz cases). Exit status 1 when
 * any scenario failed; each failure is listed under the table with what to run to reproduce it.
 * `--only` takes scenario group names (concurrent, kill-run, damaged, force-extract, kill-build,
 * bad-input, archive-safety, fuzz, permissions); `--fuzz-seed N` replays one fuzz case verbosely.
 *
 * Uses the built core (packages/core/dist: run `npm run build` first), the CLI
 * (packages/core/dist/bin.js) and `python3`. Some scenarios need root (tmpfs mounts, running as
 * `nobody` through setpriv), as in CI's container.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const REPOSITORY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CORE_DIST = path.join(REPOSITORY, 'packages', 'core', 'dist');
const CLI = path.join(CORE_DIST, 'bin.js');
const PYTHON = process.env.PYZ_RELIABILITY_PYTHON ?? 'python3';
/** The interpreter an unprivileged user can run (pyenv lives under /root, closed to others). */
const SYSTEM_PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : PYTHON;
const NOBODY = { uid: 65534, gid: 65534 };
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
/** Name of the nested payload inside the outer zip (packages/core/src/layout.ts). */
const PAYLOAD_MEMBER = '_pyz_site_packages.zip';

const SCALES = {
  small: { concurrentRounds: 2, processes: 16, killRounds: 4, forceRounds: 1, buildKillRounds: 4, fuzzCases: 1000, bigFiles: 1500, lazyModules: 150 },
  full: { concurrentRounds: 20, processes: 16, killRounds: 30, forceRounds: 10, buildKillRounds: 20, fuzzCases: 10000, bigFiles: 3000, lazyModules: 300 },
};

// ------------------------------------------------------------------------------------- utilities

/** Deterministic PRNG (mulberry32): every random choice of a round or fuzz case has a seed. */
function rng(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (limit) => Math.floor(next() * limit),
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function sleep(milliseconds) {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

/** Runs a command to completion; never throws. */
function run(command, args, options = {}) {
  const started = performance.now();
  const result = spawnSync(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    input: options.input,
    encoding: 'utf8',
    timeout: options.timeout ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, signal: result.signal, stdout: result.stdout ?? '', stderr: result.stderr ?? '', error: result.error, ms: performance.now() - started };
}

/** Runs a command as the unprivileged user `nobody` (root: permission bits do not stop root). */
function runAsNobody(command, args, options = {}) {
  if (!IS_ROOT) return run(command, args, options);
  return run('setpriv', [`--reuid=${NOBODY.uid}`, `--regid=${NOBODY.gid}`, '--clear-groups', command, ...args], options);
}

/** Starts a command; resolves with its outcome. `child` is exposed for kills. */
function start(command, args, options = {}) {
  const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const started = performance.now();
  const done = new Promise((resolve) => {
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr, ms: performance.now() - started }));
  });
  return { child, done };
}

function cli(args, options = {}) {
  return run(process.execPath, [CLI, ...args], options);
}

function listDirectory(directory) {
  try {
    return fs.readdirSync(directory).sort();
  } catch {
    return null;
  }
}

function short(text, length = 300) {
  const flat = String(text ?? '').replace(/\s+/g, ' ').trim();
  return flat.length > length ? `${flat.slice(0, length)}…` : flat;
}

function mount(target, options) {
  const result = run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', target]);
  if (result.status !== 0) throw new Error(`mount tmpfs on ${target} failed: ${result.stderr}`);
}

function remountReadOnly(target) {
  const result = run('mount', ['-o', 'remount,ro', target]);
  if (result.status !== 0) throw new Error(`remount ro ${target} failed: ${result.stderr}`);
}

function unmount(target) {
  run('umount', [target]);
}

// ------------------------------------------------------------------------------------- fixtures

/**
 * The test application: `relapp.main:main` prints RELAPP-OK, the value of `relapp.check` (whose
 * last line is the only one setting "COMPLETE", so a truncated copy still imports but says
 * "MIDDLE") and the real path of its own file. RELAPP_MODE=stress keeps importing lazy modules and
 * reading files until told to stop (the SHIV_FORCE_EXTRACT scenario).
 */
const MAIN_PY = `import importlib, os, sys, time


def main():
    from relapp import check
    here = os.path.dirname(os.path.abspath(__file__))
    print("RELAPP-OK VALUE=%s FILE=%s" % (check.VALUE, os.path.realpath(__file__)))
    sys.stdout.flush()
    if os.environ.get("RELAPP_MODE") != "stress":
        return 0
    count = int(os.environ["RELAPP_LAZY"])
    stop = os.environ["RELAPP_STOP_FILE"]
    open(os.environ["RELAPP_READY_FILE"], "w").close()
    imported = iterations = errors = 0
    first_error = None
    next_import = time.monotonic()
    deadline = time.monotonic() + 120
    while (imported < count or not os.path.exists(stop)) and time.monotonic() < deadline:
        iterations += 1
        try:
            if imported < count and time.monotonic() >= next_import:
                module = importlib.import_module("relapp.lazy.m%d" % imported)
                if module.VALUE != imported:
                    raise AssertionError("relapp.lazy.m%d has VALUE %r" % (imported, module.VALUE))
                imported += 1
                next_import = time.monotonic() + 0.01
            name = os.path.join(here, "lazy", "m%d.py" % (iterations % count))
            with open(name, "rb") as handle:
                if not handle.read().startswith(b"VALUE = "):
                    raise AssertionError("%s has unexpected content" % name)
        except Exception as error:
            errors += 1
            if first_error is None:
                first_error = repr(error)
    print("STRESS imported=%d iterations=%d errors=%d first=%s" % (imported, iterations, errors, first_error))
    return 1 if errors or imported < count else 0
`;

/** Writes the app tree; `files` filler files spread over directories, `lazy` lazily imported modules. */
function makeSite(directory, { files = 40, lazy = 20, variant = 'v1' } = {}) {
  const package_ = path.join(directory, 'relapp');
  fs.mkdirSync(path.join(package_, 'lazy'), { recursive: true });
  fs.mkdirSync(path.join(package_, 'data'), { recursive: true });
  fs.writeFileSync(path.join(package_, '__init__.py'), `VARIANT = ${JSON.stringify(variant)}\n`);
  fs.writeFileSync(path.join(package_, 'main.py'), MAIN_PY);
  const lines = ['VALUE = "BEGIN"', ...Array.from({ length: 200 }, (_, index) => `VALUE = "MIDDLE"  # line ${index}`), 'VALUE = "COMPLETE"', ''];
  fs.writeFileSync(path.join(package_, 'check.py'), lines.join('\n'));
  fs.writeFileSync(path.join(package_, 'lazy', '__init__.py'), '');
  for (let index = 0; index < lazy; index++) fs.writeFileSync(path.join(package_, 'lazy', `m${index}.py`), `VALUE = ${index}\n`);
  const random = rng(1234);
  for (let index = 0; index < files; index++) {
    const sub = path.join(package_, 'filler', `d${index % 30}`);
    fs.mkdirSync(sub, { recursive: true });
    const body = `# filler ${index} ${variant}\n` + 'x = 1\n'.repeat(10 + random.int(200));
    fs.writeFileSync(path.join(sub, `f${index}.py`), body);
  }
  fs.writeFileSync(path.join(package_, 'data', 'blob.bin'), randomBytes(64 * 1024));
  fs.mkdirSync(path.join(directory, 'relapp-1.0.dist-info'), { recursive: true });
  fs.writeFileSync(path.join(directory, 'relapp-1.0.dist-info', 'METADATA'), 'Metadata-Version: 2.1\nName: relapp\nVersion: 1.0\n');
  fs.writeFileSync(path.join(directory, 'relapp-1.0.dist-info', 'entry_points.txt'), '[console_scripts]\nrelapp = relapp.main:main\n');
  return directory;
}

/** What a complete extraction must hold: every payload file with its size (from the archive). */
async function payloadOf(core, pyz) {
  const info = await core.readPyzInfo(pyz, { listFiles: true });
  const stem = path.basename(pyz).replace(/\.[^.]*$/, '');
  return { buildId: info.environment.build_id, directoryName: `${stem}_${info.environment.build_id}`, files: info.files };
}

const EXTRACTION_ENTRIES = new Set(['site-packages', '.pyz-manifest.json', '.pyz-listing.json', '.pyz-files', '.pyz-in-use']);

/**
 * Problems of a cache root after every process has exited: the extraction must be complete
 * (every payload file, right size) and only the documented entries may remain (CACHEDIR.TAG,
 * the extraction, its lock file; inside it the manifest, listing and in-use file).
 */
function cacheProblems(root, payload, { allowOtherBuilds = false } = {}) {
  const problems = [];
  const names = listDirectory(root);
  if (names === null) return [`cache root ${root} missing`];
  const allowed = new Set(['CACHEDIR.TAG', payload.directoryName, `${payload.directoryName}.lock`]);
  for (const name of names) {
    if (allowed.has(name)) continue;
    if (allowOtherBuilds && /^[^.]+$/.test(name)) continue;
    problems.push(`leftover in root: ${name}`);
  }
  const extraction = path.join(root, payload.directoryName);
  const stat = fs.lstatSync(extraction, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return [...problems, `extraction ${payload.directoryName} is ${stat ? 'not a directory' : 'missing'}`];
  for (const name of listDirectory(extraction)) if (!EXTRACTION_ENTRIES.has(name)) problems.push(`leftover in extraction: ${name}`);
  const site = path.join(extraction, 'site-packages');
  let missing = 0;
  let wrongSize = 0;
  for (const file of payload.files) {
    const info = fs.statSync(path.join(site, file.path), { throwIfNoEntry: false });
    if (!info) {
      if (missing++ < 3) problems.push(`missing ${file.path}`);
    } else if (info.size !== file.size) {
      if (wrongSize++ < 3) problems.push(`${file.path} has ${info.size} bytes, expected ${file.size}`);
    }
  }
  if (missing > 3) problems.push(`… ${missing} files missing in all`);
  if (wrongSize > 3) problems.push(`… ${wrongSize} files of the wrong size in all`);
  return problems;
}

function runApp(pyz, env = {}, options = {}) {
  return run(options.python ?? PYTHON, [pyz], { env: { RELAPP_MODE: 'plain', ...env }, timeout: options.timeout ?? 120_000, cwd: options.cwd });
}

function appRanCompletely(result) {
  return result.status === 0 && /RELAPP-OK VALUE=COMPLETE/.test(result.stdout);
}

function describeRun(result) {
  return `exit ${result.status}${result.signal ? ` (${result.signal})` : ''}, stdout: ${short(result.stdout, 160)}, stderr: ${short(result.stderr, 300)}`;
}

/** A runtime refusal: non-zero exit, `pyz: error: CODE: …` and a `fix:` line, no traceback. */
function isClearRuntimeError(result) {
  return result.status !== 0 && /pyz: error: [A-Z_]+: /.test(result.stderr) && /\n\s*fix: \S/.test(result.stderr) && !/Traceback \(most recent call last\)/.test(result.stderr);
}

// ------------------------------------------------------------------------------------- results

const results = [];

function record(scenario, rounds, failures, notes = '') {
  const failed = failures.length;
  results.push({ scenario, rounds, passed: rounds - failed, failed, notes, failures });
  const mark = failed === 0 ? 'ok  ' : 'FAIL';
  process.stderr.write(`${mark} ${scenario}: ${rounds - failed}/${rounds}${notes ? ` — ${notes}` : ''}\n`);
  for (const failure of failures.slice(0, 5)) process.stderr.write(`       ${short(failure, 600)}\n`);
}

async function guarded(scenario, body) {
  try {
    await body();
  } catch (error) {
    record(scenario, 1, [`harness error: ${error?.stack ?? error}`]);
  }
}

// ------------------------------------------------------------------------------------ scenarios

/** 16 processes start the same .pyz at once on an empty cache. */
async function scenarioConcurrent(context) {
  // The large archive: extraction takes long enough that the other 15 processes queue on the lock.
  const { scale, workspace, bigPyz: smallPyz, bigPayload: smallPayload } = context;
  const failures = [];
  let slowest = 0;
  for (let round = 0; round < scale.concurrentRounds; round++) {
    const root = path.join(workspace, `concurrent-${round}`);
    const runs = Array.from({ length: scale.processes }, () => start(PYTHON, [smallPyz], { env: { SHIV_ROOT: root, RELAPP_MODE: 'plain' } }));
    const outcomes = await Promise.all(runs.map((item) => item.done));
    slowest = Math.max(slowest, ...outcomes.map((outcome) => outcome.ms));
    const bad = outcomes.filter((outcome) => !appRanCompletely(outcome));
    const problems = cacheProblems(root, smallPayload);
    if (bad.length > 0 || problems.length > 0) {
      failures.push(`round ${round}: ${bad.length}/${scale.processes} processes failed${bad[0] ? ` (first: ${describeRun(bad[0])})` : ''}; ${problems.join('; ')}`);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  record(`${scale.processes} processes start at once on an empty cache`, scale.concurrentRounds, failures, `${smallPayload.files.length} files; slowest process ${(slowest / 1000).toFixed(2)} s`);
}

/** A first run killed with SIGKILL at a random moment of its extraction; the next run must repair. */
async function scenarioKillRun(context) {
  const { scale, workspace, bigPyz, bigPayload } = context;
  const failures = [];
  // Measure: a cold run (extraction) against a warm one.
  const measureRoot = path.join(workspace, 'kill-measure');
  const cold = runApp(bigPyz, { SHIV_ROOT: measureRoot });
  const warm = runApp(bigPyz, { SHIV_ROOT: measureRoot });
  fs.rmSync(measureRoot, { recursive: true, force: true });
  if (!appRanCompletely(cold)) {
    record('first run killed (SIGKILL) during extraction, next run repairs', 1, [`measuring run failed: ${describeRun(cold)}`]);
    return;
  }
  const window = cold.ms;
  const random = rng(4242);
  let midExtraction = 0;
  for (let round = 0; round < scale.killRounds; round++) {
    const root = path.join(workspace, `kill-${round}`);
    const delay = random.next() * window;
    const { child, done } = start(PYTHON, [bigPyz], { env: { SHIV_ROOT: root, RELAPP_MODE: 'plain' } });
    await sleep(delay);
    child.kill('SIGKILL');
    const killed = await done;
    const afterKill = listDirectory(root) ?? [];
    if (afterKill.some((name) => name.endsWith('.tmp'))) midExtraction++;
    const next = runApp(bigPyz, { SHIV_ROOT: root });
    const problems = cacheProblems(root, bigPayload);
    if (!appRanCompletely(next) || problems.length > 0) {
      failures.push(`round ${round} (kill after ${delay.toFixed(0)} ms, killed run ${killed.signal ?? `exit ${killed.status}`}, root after kill: ${afterKill.join(' ')}): next run ${describeRun(next)}; ${problems.join('; ')}`);
    }
    fs.rmSync(root, { recursive: true, force: true });
  }
  record('first run killed (SIGKILL) during extraction, next run repairs', scale.killRounds, failures, `${bigPayload.files.length} files; cold start ${(window / 1000).toFixed(2)} s, warm ${(warm.ms / 1000).toFixed(2)} s; ${midExtraction} kills left a .tmp extraction`);
}

/** Damaged caches: each kind repaired automatically or refused with a clear error. */
async function scenarioDamaged(context) {
  const { workspace, smallPyz, smallPayload, noModifyPyz, noModifyPayload } = context;
  const extracted = (root, pyz = smallPyz) => {
    const first = runApp(pyz, { SHIV_ROOT: root });
    if (!appRanCompletely(first)) throw new Error(`first run failed: ${describeRun(first)}`);
    return path.join(root, (pyz === smallPyz ? smallPayload : noModifyPayload).directoryName);
  };
  const repairedOrRefused = (result, root, payload = smallPayload) => {
    if (isClearRuntimeError(result)) return null;
    if (!appRanCompletely(result)) return `neither repaired nor refused clearly: ${describeRun(result)}`;
    const problems = cacheProblems(root, payload);
    return problems.length > 0 ? `ran, but the cache is not repaired: ${problems.join('; ')}` : null;
  };
  const kinds = [
    {
      name: 'files deleted',
      expect: 'repaired',
      async run(root) {
        const extraction = extracted(root);
        fs.rmSync(path.join(extraction, 'site-packages', 'relapp', 'lazy', 'm1.py'));
        fs.rmSync(path.join(extraction, 'site-packages', 'relapp-1.0.dist-info', 'METADATA'));
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: 'directory deleted',
      expect: 'repaired',
      async run(root) {
        const extraction = extracted(root);
        fs.rmSync(path.join(extraction, 'site-packages', 'relapp', 'filler', 'd3'), { recursive: true });
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: 'site-packages deleted',
      expect: 'repaired',
      async run(root) {
        const extraction = extracted(root);
        fs.rmSync(path.join(extraction, 'site-packages'), { recursive: true });
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: 'module truncated (code must not run silently)',
      expect: 'repaired or refused',
      async run(root) {
        const extraction = extracted(root);
        const module = path.join(extraction, 'site-packages', 'relapp', 'check.py');
        const text = fs.readFileSync(module, 'utf8');
        fs.writeFileSync(module, text.slice(0, text.indexOf('\n', text.length >> 1) + 1)); // a line boundary: still valid Python
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        if (/VALUE=MIDDLE/.test(result.stdout)) return `the truncated relapp/check.py was imported silently (app printed VALUE=MIDDLE, exit ${result.status})`;
        return repairedOrRefused(result, root);
      },
    },
    {
      name: 'data file emptied (size 0)',
      expect: 'repaired or refused',
      async run(root) {
        const extraction = extracted(root);
        fs.truncateSync(path.join(extraction, 'site-packages', 'relapp', 'data', 'blob.bin'), 0);
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return repairedOrRefused(result, root);
      },
    },
    {
      name: 'module truncated, --no-modify archive',
      expect: 'refused (CACHE_MODIFIED) or repaired',
      async run(root) {
        const extraction = extracted(root, noModifyPyz);
        const module = path.join(extraction, 'site-packages', 'relapp', 'check.py');
        const text = fs.readFileSync(module, 'utf8');
        fs.writeFileSync(module, text.slice(0, text.indexOf('\n', text.length >> 1) + 1));
        const result = runApp(noModifyPyz, { SHIV_ROOT: root });
        if (/VALUE=MIDDLE/.test(result.stdout)) return 'the truncated module was imported';
        return repairedOrRefused(result, root, noModifyPayload);
      },
    },
    {
      name: 'manifest corrupted',
      expect: 'repaired',
      async run(root) {
        const extraction = extracted(root);
        fs.writeFileSync(path.join(extraction, '.pyz-manifest.json'), '{"layout": 1, "build_id": ');
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        if (!appRanCompletely(result)) return describeRun(result);
        const problems = cacheProblems(root, smallPayload);
        try {
          JSON.parse(fs.readFileSync(path.join(root, smallPayload.directoryName, '.pyz-manifest.json'), 'utf8'));
        } catch (error) {
          problems.push(`manifest still corrupt: ${error.message}`);
        }
        return problems.join('; ') || null;
      },
    },
    {
      name: '.tmp dir left behind (cache complete)',
      expect: 'cleaned',
      async run(root) {
        extracted(root);
        const leftover = path.join(root, `${smallPayload.directoryName}.4242.deadbeef.tmp`);
        fs.mkdirSync(path.join(leftover, 'site-packages'), { recursive: true });
        fs.writeFileSync(path.join(leftover, 'site-packages', 'half.py'), 'x = ');
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: '.tmp dir left behind (no cache)',
      expect: 'cleaned',
      async run(root) {
        const extraction = extracted(root);
        fs.rmSync(extraction, { recursive: true });
        const leftover = path.join(root, `${smallPayload.directoryName}.4242.deadbeef.tmp`);
        fs.mkdirSync(path.join(leftover, 'site-packages', 'relapp'), { recursive: true });
        fs.writeFileSync(path.join(leftover, 'site-packages', 'relapp', 'check.py'), 'VALUE = "MIDDLE"\n');
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: '.old copy left behind',
      expect: 'cleaned',
      async run(root) {
        extracted(root);
        fs.mkdirSync(path.join(root, `${smallPayload.directoryName}.4242.deadbeef.old`, 'site-packages'), { recursive: true });
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        return appRanCompletely(result) ? cacheProblems(root, smallPayload).join('; ') || null : describeRun(result);
      },
    },
    {
      name: 'lock file of a dead process',
      expect: 'repaired, no wait',
      async run(root) {
        fs.mkdirSync(root, { recursive: true });
        const lock = path.join(root, `${smallPayload.directoryName}.lock`);
        // A process takes the flock and dies holding it (the kernel releases flocks of dead processes).
        const holder = run(PYTHON, ['-c', 'import fcntl, os, sys; d = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); fcntl.flock(d, fcntl.LOCK_EX); os._exit(0)', lock]);
        if (holder.status !== 0) throw new Error(holder.stderr);
        const result = runApp(smallPyz, { SHIV_ROOT: root, SHIV_LOCK_TIMEOUT: '30' });
        if (!appRanCompletely(result)) return describeRun(result);
        if (result.ms > 5000) return `took ${(result.ms / 1000).toFixed(1)} s: waited on a dead lock`;
        return cacheProblems(root, smallPayload).join('; ') || null;
      },
    },
    {
      name: 'lock held by a live process (bounded wait)',
      expect: 'refused (LOCK_TIMEOUT), then repaired',
      async run(root) {
        fs.mkdirSync(root, { recursive: true });
        const lock = path.join(root, `${smallPayload.directoryName}.lock`);
        const holder = start(PYTHON, ['-c', 'import fcntl, os, sys, time; d = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600); fcntl.flock(d, fcntl.LOCK_EX); print("held", flush=True); time.sleep(60)', lock]);
        const deadline = Date.now() + 10_000;
        while (!fs.existsSync(lock) && Date.now() < deadline) await sleep(20);
        await sleep(200);
        const result = runApp(smallPyz, { SHIV_ROOT: root, SHIV_LOCK_TIMEOUT: '1' }, { timeout: 30_000 });
        holder.child.kill('SIGKILL');
        await holder.done;
        const problems = [];
        if (!isClearRuntimeError(result) || !/LOCK_TIMEOUT/.test(result.stderr)) problems.push(`while locked: ${describeRun(result)}`);
        if (result.ms > 8000) problems.push(`lock wait took ${(result.ms / 1000).toFixed(1)} s with SHIV_LOCK_TIMEOUT=1`);
        const after = runApp(smallPyz, { SHIV_ROOT: root });
        if (!appRanCompletely(after)) problems.push(`after the holder died: ${describeRun(after)}`);
        else problems.push(...cacheProblems(root, smallPayload));
        return problems.join('; ') || null;
      },
    },
    {
      name: 'read-only cache (complete)',
      expect: 'runs',
      needsRoot: true,
      async run(root) {
        fs.mkdirSync(root, { recursive: true });
        mount(root, 'size=64m,mode=0700');
        try {
          extracted(root);
          remountReadOnly(root);
          const result = runApp(smallPyz, { SHIV_ROOT: root });
          return appRanCompletely(result) ? null : describeRun(result);
        } finally {
          unmount(root);
        }
      },
    },
    {
      name: 'read-only cache (damaged)',
      expect: 'refused clearly',
      needsRoot: true,
      async run(root) {
        fs.mkdirSync(root, { recursive: true });
        mount(root, 'size=64m,mode=0700');
        try {
          const extraction = extracted(root);
          fs.rmSync(path.join(extraction, 'site-packages', 'relapp', 'lazy', 'm2.py'));
          remountReadOnly(root);
          const result = runApp(smallPyz, { SHIV_ROOT: root });
          return isClearRuntimeError(result) ? null : `not refused clearly: ${describeRun(result)}`;
        } finally {
          unmount(root);
        }
      },
    },
    {
      name: 'read-only empty cache root',
      expect: 'refused clearly',
      needsRoot: true,
      async run(root) {
        fs.mkdirSync(root, { recursive: true });
        mount(root, 'size=1m,mode=0700');
        try {
          remountReadOnly(root);
          const result = runApp(smallPyz, { SHIV_ROOT: root });
          return isClearRuntimeError(result) ? null : `not refused clearly: ${describeRun(result)}`;
        } finally {
          unmount(root);
        }
      },
    },
    {
      name: 'cache root is a regular file',
      expect: 'refused clearly',
      async run(root) {
        fs.writeFileSync(root, 'not a directory');
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        fs.rmSync(root);
        return isClearRuntimeError(result) ? null : `not refused clearly: ${describeRun(result)}`;
      },
    },
    {
      name: 'extraction dir planted as a symlink',
      expect: 'not followed: refused or replaced',
      async run(root) {
        const extraction = extracted(root);
        const elsewhere = path.join(workspace, `planted-${path.basename(root)}`);
        run('cp', ['-a', extraction, elsewhere]); // a complete copy, mtimes kept: passes a manifest check
        fs.rmSync(extraction, { recursive: true });
        fs.symlinkSync(elsewhere, extraction);
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        const realFile = /FILE=(\S+)/.exec(result.stdout)?.[1] ?? '';
        fs.rmSync(elsewhere, { recursive: true, force: true });
        if (result.status === 0 && realFile.startsWith(elsewhere + path.sep)) return `imported code through the planted symlink: ${realFile}`;
        if (isClearRuntimeError(result)) return null;
        if (!appRanCompletely(result)) return describeRun(result);
        return fs.lstatSync(extraction).isSymbolicLink() ? 'ran, and the symlink is still in place' : null;
      },
    },
    {
      name: 'extraction dir owned by another user',
      expect: 'refused or re-extracted',
      needsRoot: true,
      async run(root) {
        const extraction = extracted(root);
        run('chown', ['-R', `${NOBODY.uid}:${NOBODY.gid}`, extraction]);
        const result = runApp(smallPyz, { SHIV_ROOT: root });
        if (isClearRuntimeError(result)) return null;
        if (!appRanCompletely(result)) return describeRun(result);
        const realFile = /FILE=(\S+)/.exec(result.stdout)?.[1] ?? '';
        const owner = fs.statSync(realFile).uid;
        return owner === NOBODY.uid ? `imported ${realFile}, owned by uid ${owner} (another user could have changed it)` : null;
      },
    },
    {
      name: 'cache root of another user (run as nobody)',
      expect: 'refused clearly',
      needsRoot: true,
      async run(root) {
        extracted(root); // root-owned, 0700
        fs.rmSync(path.join(root, smallPayload.directoryName, 'site-packages', 'relapp', 'lazy', 'm3.py'));
        const result = runAsNobody(SYSTEM_PYTHON, [context.publicSmallPyz], { env: { SHIV_ROOT: root, HOME: '/nonexistent' } });
        return isClearRuntimeError(result) ? null : `not refused clearly: ${describeRun(result)}`;
      },
    },
  ];
  for (const kind of kinds) {
    const root = path.join(workspace, `damaged-${kinds.indexOf(kind)}`);
    const failures = [];
    try {
      if (kind.needsRoot && !IS_ROOT) failures.push('needs root (tmpfs mounts, chown, setpriv)');
      else {
        const problem = await kind.run(root);
        if (problem) failures.push(problem);
      }
    } catch (error) {
      failures.push(`harness error: ${error?.stack ?? error}`);
    }
    record(`damaged cache: ${kind.name}`, 1, failures, `expected: ${kind.expect}`);
    fs.rmSync(root, { recursive: true, force: true });
  }
}

/** SHIV_FORCE_EXTRACT swaps a fresh copy in while another process keeps importing from the cache. */
async function scenarioForceExtract(context) {
  const { scale, workspace, bigPyz, bigPayload } = context;
  const failures = [];
  let swaps = 0;
  for (let round = 0; round < scale.forceRounds; round++) {
    const root = path.join(workspace, `force-${round}`);
    const ready = path.join(workspace, `force-${round}.ready`);
    const stop = path.join(workspace, `force-${round}.stop`);
    const first = runApp(bigPyz, { SHIV_ROOT: root });
    if (!appRanCompletely(first)) {
      failures.push(`round ${round}: first run ${describeRun(first)}`);
      continue;
    }
    const longRunning = start(PYTHON, [bigPyz], { env: { SHIV_ROOT: root, RELAPP_MODE: 'stress', RELAPP_LAZY: String(scale.lazyModules), RELAPP_READY_FILE: ready, RELAPP_STOP_FILE: stop } });
    const deadline = Date.now() + 30_000;
    while (!fs.existsSync(ready) && Date.now() < deadline) await sleep(10);
    const problems = [];
    const extraction = path.join(root, bigPayload.directoryName);
    for (let swap = 0; swap < 2; swap++) {
      const before = fs.statSync(extraction, { throwIfNoEntry: false })?.ino;
      const forced = runApp(bigPyz, { SHIV_ROOT: root, SHIV_FORCE_EXTRACT: '1' });
      const after = fs.statSync(extraction, { throwIfNoEntry: false })?.ino;
      if (!appRanCompletely(forced)) problems.push(`forced run ${swap}: ${describeRun(forced)}`);
      if (before !== undefined && after !== undefined && before !== after) swaps++;
      else problems.push(`forced run ${swap} did not swap in a new copy (inode ${before} → ${after})`);
    }
    fs.writeFileSync(stop, '');
    const outcome = await longRunning.done;
    if (!(outcome.status === 0 && /STRESS imported=\d+ iterations=\d+ errors=0 /.test(outcome.stdout))) problems.push(`long-running process affected: ${/STRESS .*/.exec(outcome.stdout)?.[0] ?? 'no STRESS line'}; ${describeRun(outcome)}`);
    const next = runApp(bigPyz, { SHIV_ROOT: root });
    if (!appRanCompletely(next)) problems.push(`run after: ${describeRun(next)}`);
    problems.push(...cacheProblems(root, bigPayload));
    if (problems.length > 0) failures.push(`round ${round}: ${problems.join('; ')}`);
    fs.rmSync(root, { recursive: true, force: true });
    fs.rmSync(ready, { force: true });
    fs.rmSync(stop, { force: true });
  }
  record('SHIV_FORCE_EXTRACT while another process imports lazily', scale.forceRounds, failures, `${swaps} swaps under a process importing ${scale.lazyModules} modules and reading files in a loop`);
}

/** The build killed with SIGKILL at a random moment: the previous .pyz stays intact. */
async function scenarioKillBuild(context) {
  const { scale, workspace, bigSite, bigSiteV2 } = context;
  const failures = [];
  const directory = path.join(workspace, 'kill-build');
  fs.mkdirSync(directory, { recursive: true });
  const output = path.join(directory, 'app.pyz');
  const env = { SOURCE_DATE_EPOCH: '1700000000' };
  const buildArgs = (site, out) => ['build', '--reproducible', '-q', '--site-packages', site, '-e', 'relapp.main:main', '-o', out];
  const reference = path.join(workspace, 'kill-build-reference.pyz');
  const referenceBuild = cli(buildArgs(bigSiteV2, reference), { env });
  const previousBuild = cli(buildArgs(bigSite, output), { env });
  if (referenceBuild.status !== 0 || previousBuild.status !== 0) {
    record('build killed (SIGKILL), previous .pyz intact', 1, [`setup builds failed: ${referenceBuild.stderr} ${previousBuild.stderr}`]);
    return;
  }
  // Other engineers may rebuild the product while this runs, so archives are identified by
  // content (build id, and every CRC checked by Python's zipfile) rather than by a hash taken once.
  const identify = (file) => {
    const result = run(PYTHON, ['-c', 'import io, json, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; e = json.loads(z.read("environment.json")); n = zipfile.ZipFile(io.BytesIO(z.read(e["payload"]))); assert n.testzip() is None; print(e["build_id"])', file]);
    return result.status === 0 ? result.stdout.trim() : null;
  };
  const previousId = identify(output);
  const newId = identify(reference);
  // A little past the measured build, so some kills land after the rename too.
  const window = referenceBuild.ms * 1.3;
  const random = rng(777);
  let replaced = 0;
  let temporariesAfterKill = 0;
  for (let round = 0; round < scale.buildKillRounds; round++) {
    const delay = random.next() * window;
    const previousHash = sha256(output);
    const { child, done } = start(process.execPath, [CLI, ...buildArgs(bigSiteV2, output)], { env });
    await sleep(delay);
    child.kill('SIGKILL');
    const killed = await done;
    const problems = [];
    const hash = sha256(output);
    if (hash !== previousHash) {
      if (identify(output) === newId) replaced++;
      else problems.push(`output is neither the previous archive nor a complete new one (sha256 ${hash})`);
    }
    if (listDirectory(directory).length > 1) temporariesAfterKill++;
    const next = cli(buildArgs(bigSite, output), { env });
    if (next.status !== 0) problems.push(`next build failed: ${describeRun(next)}`);
    else if (identify(output) !== previousId) problems.push('next build produced an unexpected archive');
    const left = listDirectory(directory).filter((name) => name !== 'app.pyz');
    if (left.length > 0) problems.push(`left after the next build: ${left.join(' ')}`);
    if (problems.length > 0) failures.push(`round ${round} (kill after ${delay.toFixed(0)} ms, ${killed.signal ?? `exit ${killed.status}`}): ${problems.join('; ')}`);
  }
  record('build killed (SIGKILL), previous .pyz intact', scale.buildKillRounds, failures, `build ${(referenceBuild.ms / 1000).toFixed(2)} s, kills within ${(window / 1000).toFixed(2)} s; ${replaced} kills came after the rename (new archive complete); ${temporariesAfterKill} left a temp file, removed by the next build`);
}

/** The catalogue of bad inputs, each through the CLI. */
async function scenarioBadInput(context) {
  const { workspace, smallSite, smallPyz } = context;
  const base = path.join(workspace, 'bad-input');
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  fs.chmodSync(base, 0o755);
  const entry = ['-e', 'relapp.main:main'];
  /**
   * Each case: `setup(dir)` returns { args, code(s), value, cwd?, asNobody?, env?, cleanup? }.
   * `dir` holds `site/` (a copy of the app) and `out/app.pyz` (a previous archive) unless the
   * case moves them. Build cases must leave out/ byte-identical.
   */
  const cases = [
    { name: 'entry point without module', setup: () => ({ args: ['build', '--site-packages', 'site', '-e', ':main', '-o', 'out/app.pyz'], code: 'ENTRY_POINT_INVALID', value: ':main' }) },
    { name: 'entry point with a space', setup: () => ({ args: ['build', '--site-packages', 'site', '-e', 'relapp.main:ma in', '-o', 'out/app.pyz'], code: 'ENTRY_POINT_INVALID', value: 'relapp.main:ma in' }) },
    { name: 'empty entry point', setup: () => ({ args: ['build', '--site-packages', 'site', '-e', '', '-o', 'out/app.pyz'], code: ['ENTRY_POINT_INVALID', 'INVALID_OPTION'], value: '""' }) },
    { name: 'entry point module not in the payload', setup: () => ({ args: ['build', '--site-packages', 'site', '-e', 'nosuch.module:main', '-o', 'out/app.pyz'], code: 'ENTRY_POINT_NOT_FOUND', value: 'nosuch.module' }) },
    { name: '-e with -c', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '-c', 'relapp', '-o', 'out/app.pyz'], code: 'ENTRY_POINT_CONFLICT', value: 'relapp.main:main' }) },
    { name: 'console script not found', setup: () => ({ args: ['build', '--site-packages', 'site', '-c', 'no-such-script', '-o', 'out/app.pyz'], code: 'CONSOLE_SCRIPT_NOT_FOUND', value: 'no-such-script' }) },
    { name: 'missing --site-packages dir', setup: () => ({ args: ['build', '--site-packages', 'does/not/exist', ...entry, '-o', 'out/app.pyz'], code: 'SITE_PACKAGES_NOT_FOUND', value: 'does/not/exist' }) },
    {
      name: '--site-packages is a file',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'plain.txt'), 'x');
        return { args: ['build', '--site-packages', 'plain.txt', ...entry, '-o', 'out/app.pyz'], code: 'SITE_PACKAGES_NOT_FOUND', value: 'plain.txt' };
      },
    },
    {
      name: 'pip failure (package not found)',
      setup: (dir) => {
        fs.mkdirSync(path.join(dir, 'empty-index'));
        return { args: ['build', ...entry, '-o', 'out/app.pyz', '--no-index', '--find-links', 'empty-index', 'no-such-package-pyz-reliability'], code: 'PIP_FAILED', value: 'no-such-package-pyz-reliability', env: { PIP_RETRIES: '0' } };
      },
    },
    { name: 'shebang too long', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '-p', `/usr/bin/${'x'.repeat(200)}`, '-o', 'out/app.pyz'], code: 'SHEBANG_TOO_LONG', value: 'x'.repeat(200) }) },
    ...[
      ['-t', 'x'],
      ['--target', 'x'],
      ['--target=x'],
      ['--editable', '.'],
      ['-d', 'x'],
      ['--download', 'x'],
      ['--download=x'],
      ['--user'],
      ['--prefix', 'x'],
      ['--prefix=x'],
    ].map((pipArguments) => ({
      name: `pip argument ${pipArguments.join(' ')}`,
      setup: () => ({ args: ['build', ...entry, '-o', 'out/app.pyz', ...pipArguments, 'somepackage'], code: 'PIP_ARGUMENT_REFUSED', value: pipArguments[0] }),
    })),
    {
      name: 'output path is a directory',
      setup: (dir) => {
        fs.mkdirSync(path.join(dir, 'out', 'app.pyz.d'));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz.d'], code: 'OUTPUT_IS_DIRECTORY', value: 'app.pyz.d' };
      },
    },
    {
      name: 'output dir not writable (as nobody)',
      needsRoot: true,
      setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'OUTPUT_NOT_WRITABLE', value: 'out', asNobody: true }),
    },
    {
      name: 'output dir on a read-only tmpfs',
      needsRoot: true,
      setup: (dir) => {
        const out = path.join(dir, 'out');
        const saved = fs.readFileSync(path.join(out, 'app.pyz'));
        mount(out, 'size=4m,mode=0755');
        fs.writeFileSync(path.join(out, 'app.pyz'), saved, { mode: 0o755 });
        remountReadOnly(out);
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'OUTPUT_NOT_WRITABLE', value: 'out', cleanup: () => unmount(out) };
      },
    },
    {
      name: 'disk full (1 MiB tmpfs)',
      needsRoot: true,
      setup: (dir) => {
        const out = path.join(dir, 'out');
        const saved = fs.readFileSync(path.join(out, 'app.pyz'));
        mount(out, 'size=1m,mode=0755');
        fs.writeFileSync(path.join(out, 'app.pyz'), saved, { mode: 0o755 });
        fs.writeFileSync(path.join(dir, 'site', 'relapp', 'data', 'noise.bin'), randomBytes(3 * 1024 * 1024)); // incompressible
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'WRITE_FAILED', value: 'app.pyz', cleanup: () => unmount(out) };
      },
    },
    {
      name: 'unreadable file (as nobody)',
      needsRoot: true,
      setup: (dir) => {
        const secret = path.join(dir, 'site', 'relapp', 'secret.py');
        fs.writeFileSync(secret, 'x = 1\n', { mode: 0o000 });
        fs.chmodSync(secret, 0o000);
        run('chown', ['-R', `${NOBODY.uid}:${NOBODY.gid}`, path.join(dir, 'out')]);
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'FILE_UNREADABLE', value: 'secret.py', asNobody: true };
      },
    },
    {
      name: 'unreadable directory (as nobody)',
      needsRoot: true,
      setup: (dir) => {
        const closed = path.join(dir, 'site', 'relapp', 'closed');
        fs.mkdirSync(closed);
        fs.writeFileSync(path.join(closed, 'inner.py'), 'x = 1\n');
        fs.chmodSync(closed, 0o000);
        run('chown', ['-R', `${NOBODY.uid}:${NOBODY.gid}`, path.join(dir, 'out')]);
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'FILE_UNREADABLE', value: 'closed', asNobody: true };
      },
    },
    {
      name: 'dangling symlink',
      setup: (dir) => {
        fs.symlinkSync('nowhere.py', path.join(dir, 'site', 'relapp', 'dangling.py'));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'SYMLINK_DANGLING', value: 'dangling.py' };
      },
    },
    {
      name: 'symlink loop (a → b → a)',
      setup: (dir) => {
        fs.symlinkSync('loop-b', path.join(dir, 'site', 'relapp', 'loop-a'));
        fs.symlinkSync('loop-a', path.join(dir, 'site', 'relapp', 'loop-b'));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'SYMLINK_LOOP', value: 'loop-a' };
      },
    },
    {
      name: 'symlink to its own parent',
      setup: (dir) => {
        fs.symlinkSync('..', path.join(dir, 'site', 'relapp', 'up'));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'SYMLINK_LOOP', value: 'up' };
      },
    },
    {
      name: 'symlink leaving the tree',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'outside.py'), 'x = 1\n');
        fs.symlinkSync(path.join(dir, 'outside.py'), path.join(dir, 'site', 'relapp', 'inside.py'));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'SYMLINK_OUTSIDE_TREE', value: 'inside.py' };
      },
    },
    {
      name: 'non-UTF-8 file name',
      setup: (dir) => {
        fs.writeFileSync(Buffer.concat([Buffer.from(path.join(dir, 'site', 'relapp') + '/bad-'), Buffer.from([0xff, 0xfe]), Buffer.from('.py')]), 'x = 1\n');
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'FILE_NAME_NOT_ENCODABLE', value: 'bad-\\xff\\xfe.py' };
      },
    },
    {
      name: 'invalid pyproject.toml',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[tool.pyz\nlevel = \n');
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'CONFIG_INVALID', value: 'pyproject.toml' };
      },
    },
    {
      name: 'unknown [tool.pyz] key',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[tool.pyz]\nfrobnicate = true\n');
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'CONFIG_INVALID', value: 'frobnicate' };
      },
    },
    {
      name: '[tool.pyz] value of the wrong type',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'pyproject.toml'), '[tool.pyz]\ncompressed = "yes"\n');
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'], code: 'CONFIG_INVALID', value: 'yes' };
      },
    },
    { name: '--level 99', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--level', '99', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: '99' }) },
    { name: '--level abc', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--level', 'abc', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: 'abc' }) },
    { name: 'unknown --backend', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--backend', 'turbo', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: 'turbo' }) },
    { name: 'invalid --build-id', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--build-id', '../evil', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: '../evil' }) },
    { name: '--include without TO', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--include', 'site', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: 'site' }) },
    { name: '--include escaping site-packages', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--include', 'site/relapp:../escape', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: '../escape' }) },
    { name: 'missing --preamble file', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--preamble', 'no-preamble.py', '-o', 'out/app.pyz'], code: 'PREAMBLE_NOT_FOUND', value: 'no-preamble.py' }) },
    { name: 'option without its value', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '-o'], code: 'INVALID_OPTION', value: '-o' }) },
    { name: 'nothing to pack', setup: () => ({ args: ['build', ...entry, '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: 'nothing to pack' }) },
    { name: 'SOURCE_DATE_EPOCH not a number', setup: () => ({ args: ['build', '--site-packages', 'site', ...entry, '--reproducible', '-o', 'out/app.pyz'], code: 'INVALID_OPTION', value: 'yesterday', env: { SOURCE_DATE_EPOCH: 'yesterday' } }) },
    { name: 'unknown command', setup: () => ({ args: ['frobnicate'], code: 'INVALID_OPTION', value: 'frobnicate' }) },
    { name: 'unknown cache action', setup: () => ({ args: ['cache', 'explode'], code: 'INVALID_OPTION', value: 'explode' }) },
    { name: 'cache prune bad duration', setup: () => ({ args: ['cache', 'prune', '--older-than', 'soon'], code: 'INVALID_OPTION', value: 'soon' }) },
    { name: 'pyz info with two files', setup: () => ({ args: ['info', 'a.pyz', 'b.pyz'], code: 'INVALID_OPTION', value: 'a.pyz' }) },
    { name: 'pyz info on a missing file', setup: () => ({ args: ['info', 'missing.pyz'], code: ['ARCHIVE_INVALID', 'FILE_UNREADABLE', 'INVALID_OPTION'], value: 'missing.pyz' }) },
    {
      name: 'pyz info on a non-zip',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'text.pyz'), 'just some text, not a zip archive\n'.repeat(20));
        return { args: ['info', 'text.pyz'], code: 'ARCHIVE_INVALID', value: 'text.pyz' };
      },
    },
    {
      name: 'pyz info on an empty file',
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'empty.pyz'), '');
        return { args: ['info', 'empty.pyz'], code: 'ARCHIVE_INVALID', value: 'empty.pyz' };
      },
    },
    {
      name: 'pyz info on a truncated archive',
      setup: (dir) => {
        const bytes = fs.readFileSync(smallPyz);
        fs.writeFileSync(path.join(dir, 'truncated.pyz'), bytes.subarray(0, Math.floor(bytes.length * 0.6)));
        return { args: ['info', '--list', 'truncated.pyz'], code: 'ARCHIVE_INVALID', value: 'truncated.pyz' };
      },
    },
    {
      name: 'pyz info on a zip without environment.json',
      setup: (dir) => {
        const made = run(PYTHON, ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("__main__.py", "print(1)"); z.close()', path.join(dir, 'plain.zip')]);
        if (made.status !== 0) throw new Error(made.stderr);
        return { args: ['info', 'plain.zip'], code: 'ARCHIVE_INVALID', value: 'plain.zip' };
      },
    },
    {
      name: 'pyz info with environment.json not JSON',
      setup: (dir) => {
        const made = run(PYTHON, ['-c', 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w"); z.writestr("environment.json", "{not json"); z.close()', path.join(dir, 'badjson.pyz')]);
        if (made.status !== 0) throw new Error(made.stderr);
        return { args: ['info', 'badjson.pyz'], code: 'ARCHIVE_INVALID', value: 'badjson.pyz' };
      },
    },
    {
      name: 'corrupt previous archive at the output path',
      expectSuccess: true,
      setup: (dir) => {
        fs.writeFileSync(path.join(dir, 'out', 'app.pyz'), Buffer.concat([Buffer.from('#!/usr/bin/env python3\nPK\x03\x04'), randomBytes(5000), Buffer.from('PK\x05\x06'), randomBytes(18)]));
        return { args: ['build', '--site-packages', 'site', ...entry, '-o', 'out/app.pyz'] };
      },
    },
  ];

  let passed = 0;
  const failures = [];
  const codesSeen = new Set();
  for (const [index, testCase] of cases.entries()) {
    const dir = path.join(base, `case-${index}`);
    fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
    fs.cpSync(smallSite, path.join(dir, 'site'), { recursive: true });
    fs.copyFileSync(smallPyz, path.join(dir, 'out', 'app.pyz'));
    run('chmod', ['-R', 'a+rX', dir]);
    let spec;
    let problems = [];
    try {
      if (testCase.needsRoot && !IS_ROOT) throw new Error('needs root (tmpfs mounts, setpriv)');
      spec = testCase.setup(dir);
      const outDirectory = path.join(dir, 'out');
      const beforeListing = listDirectory(outDirectory);
      const beforeHashes = Object.fromEntries(beforeListing.filter((name) => fs.statSync(path.join(outDirectory, name)).isFile()).map((name) => [name, sha256(path.join(outDirectory, name))]));
      const env = { HOME: path.join(dir, 'home'), XDG_CACHE_HOME: path.join(dir, 'xdg-cache'), ...spec.env };
      const result = spec.asNobody ? runAsNobody(process.execPath, [CLI, ...spec.args], { cwd: dir, env }) : cli(spec.args, { cwd: dir, env });
      spec.cleanup?.();
      if (testCase.expectSuccess) {
        if (result.status !== 0) problems.push(`build failed: ${describeRun(result)}`);
        else {
          const ran = runApp(path.join(dir, 'out', 'app.pyz'), { SHIV_ROOT: path.join(dir, 'shiv') });
          if (!appRanCompletely(ran)) problems.push(`rebuilt archive does not run: ${describeRun(ran)}`);
        }
      } else {
        const codes = [spec.code].flat();
        const match = /pyz: error ([A-Z_0-9]+): /.exec(result.stderr);
        if (result.status === 0 || result.status === null) problems.push(`exit status ${result.status}`);
        if (!match) problems.push('no "pyz: error CODE:" line');
        else {
          codesSeen.add(match[1]);
          if (!codes.includes(match[1])) problems.push(`code ${match[1]}, expected ${codes.join(' or ')}`);
        }
        if (!result.stderr.includes(spec.value)) problems.push(`message does not show the offending value ${JSON.stringify(spec.value)}`);
        if (!/\n\s*fix: \S/.test(result.stderr)) problems.push('no "fix:" line');
        if (/internal error|\n\s+at .+:\d+:\d+\)?\n/.test(result.stderr)) problems.push('stack trace / internal error');
        if (problems.length > 0) problems.push(`stderr: ${short(result.stderr, 400)}`);
      }
      if (!testCase.expectSuccess) {
        const afterListing = listDirectory(outDirectory);
        if (JSON.stringify(afterListing) !== JSON.stringify(beforeListing)) problems.push(`out/ changed: [${beforeListing}] → [${afterListing}]`);
        for (const [name, hash] of Object.entries(beforeHashes)) if (fs.existsSync(path.join(outDirectory, name)) && sha256(path.join(outDirectory, name)) !== hash) problems.push(`out/${name} changed`);
      }
    } catch (error) {
      spec?.cleanup?.();
      problems.push(`harness error: ${error?.message ?? error}`);
    }
    if (problems.length === 0) passed++;
    else failures.push(`"${testCase.name}" (node packages/core/dist/bin.js ${spec?.args?.map((argument) => (/[\s"]/.test(argument) || argument === '' ? JSON.stringify(argument) : argument)).join(' ') ?? '?'}): ${problems.join('; ')}`);
    run('chmod', ['-R', 'u+rwX', dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  record('bad input through the CLI (code, value, fix:, nothing written)', cases.length, failures, `${cases.length} cases, ${codesSeen.size} distinct codes`);
}

/** Hand-crafted archives with hostile payload members: refused by the runtime and by pyz info --list. */
async function scenarioArchiveSafety(context) {
  const { workspace, smallPyz } = context;
  const directory = path.join(workspace, 'unsafe');
  fs.mkdirSync(directory, { recursive: true });
  const absoluteTarget = path.join(workspace, `absolute-escape-${randomBytes(4).toString('hex')}.py`);
  const kinds = {
    'dot-dot': { member: '../../escaped.py', escapes: [path.join(directory, 'escaped.py'), path.join(workspace, 'escaped.py')] },
    'dot-dot inside': { member: 'relapp/../../escaped2.py', escapes: [path.join(workspace, 'escaped2.py')] },
    absolute: { member: absoluteTarget, escapes: [absoluteTarget] },
    'drive letter': { member: 'C:/escaped.py', escapes: [] },
    backslash: { member: '..\\escaped3.py', escapes: [] },
    'symlink member': { member: 'relapp/link', symlink: '../../../../../../etc', escapes: [] },
    'duplicate name': { member: 'relapp/check.py', duplicate: true, escapes: [] },
    'dot component': { member: 'relapp/./dot.py', escapes: [] },
  };
  const craft = `
import io, json, stat, sys, warnings, zipfile
source, target, member, link, duplicate = sys.argv[1:6]
warnings.simplefilter("ignore")
data = open(source, "rb").read()
shebang = data[:data.index(b"\\n") + 1]
outer = zipfile.ZipFile(io.BytesIO(data))
environment = json.loads(outer.read("environment.json"))
payload = zipfile.ZipFile(io.BytesIO(outer.read(environment["payload"])))
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w") as new:
    for info in payload.infolist():
        new.writestr(info, payload.read(info))
    info = zipfile.ZipInfo("x")
    info.filename = member  # bypass ZipInfo's normalisation: exactly these bytes
    if link:
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        new.writestr(info, link)
    elif duplicate == "1":
        info.external_attr = 0o644 << 16
        new.writestr(info, b'VALUE = "EVIL"\\n')
    else:
        info.external_attr = 0o644 << 16
        new.writestr(info, b'print("escaped")\\n')
with open(target, "wb") as handle:
    handle.write(shebang)
    with zipfile.ZipFile(handle, "w") as new_outer:
        for info in outer.infolist():
            content = buffer.getvalue() if info.filename == environment["payload"] else outer.read(info)
            new_outer.writestr(info, content)
`;
  let rounds = 0;
  const failures = [];
  for (const [name, kind] of Object.entries(kinds)) {
    rounds++;
    const pyz = path.join(directory, `${name.replace(/\W+/g, '-')}.pyz`);
    const made = run(PYTHON, ['-c', craft, smallPyz, pyz, kind.member, kind.symlink ?? '', kind.duplicate ? '1' : '0']);
    if (made.status !== 0) {
      failures.push(`${name}: crafting failed: ${made.stderr}`);
      continue;
    }
    const problems = [];
    const root = path.join(directory, `root-${rounds}`);
    const result = runApp(pyz, { SHIV_ROOT: root }, { cwd: directory });
    if (!isClearRuntimeError(result)) problems.push(`runtime did not refuse clearly: ${describeRun(result)}`);
    else if (!/UNSAFE|ARCHIVE_INVALID/.test(result.stderr)) problems.push(`runtime refused with an unexpected error: ${short(result.stderr)}`);
    if (/RELAPP-OK/.test(result.stdout)) problems.push('the app ran');
    for (const escape of kind.escapes) if (fs.existsSync(escape)) problems.push(`wrote outside the cache: ${escape}`);
    const left = (listDirectory(root) ?? []).filter((entry) => entry !== 'CACHEDIR.TAG' && !entry.endsWith('.lock'));
    if (left.length > 0) problems.push(`left in the cache root after the refusal: ${left.join(' ')}`);
    const info = cli(['info', '--list', pyz]);
    if (info.status === 0 || !/pyz: error ARCHIVE_UNSAFE_MEMBER: /.test(info.stderr) || !/\n\s*fix: \S/.test(info.stderr)) problems.push(`pyz info --list did not refuse with ARCHIVE_UNSAFE_MEMBER: ${describeRun(info)}`);
    if (problems.length > 0) failures.push(`${name} (member ${JSON.stringify(kind.member)}, archive crafted by scripts/reliability.mjs): ${problems.join('; ')}`);
  }
  record('hostile payload members refused (runtime and pyz info --list)', rounds, failures, Object.keys(kinds).join(', '));
}

/** Cache root and extraction directories 0700, lock files not world-writable, whatever the umask. */
async function scenarioPermissions(context) {
  const { workspace, smallPyz, smallPayload } = context;
  const failures = [];
  const shielded = new Map();
  let rounds = 0;
  for (const umask of ['022', '000']) {
    for (const where of ['SHIV_ROOT', 'HOME']) {
      rounds++;
      const home = path.join(workspace, `perm-home-${umask}-${where}`);
      fs.mkdirSync(home, { recursive: true });
      const root = where === 'HOME' ? path.join(home, '.shiv') : path.join(home, 'fresh-root');
      const env = where === 'HOME' ? { HOME: home, SHIV_ROOT: '' } : { HOME: home, SHIV_ROOT: root };
      const result = run('sh', ['-c', `umask ${umask}; exec "$0" "$1"`, PYTHON, smallPyz], { env: { ...env, RELAPP_MODE: 'plain' } });
      const problems = [];
      if (!appRanCompletely(result)) problems.push(describeRun(result));
      else {
        const mode = (file) => fs.statSync(file).mode & 0o777;
        const extraction = path.join(root, smallPayload.directoryName);
        for (const directory of [root, extraction, path.join(extraction, 'site-packages')]) {
          if (mode(directory) & 0o077) problems.push(`${path.relative(home, directory)} is ${mode(directory).toString(8)}, expected 700`);
        }
        for (const lock of [path.join(root, `${smallPayload.directoryName}.lock`), path.join(extraction, '.pyz-in-use')]) {
          if (mode(lock) & 0o022) problems.push(`${path.relative(home, lock)} is ${mode(lock).toString(8)}: group/world-writable`);
        }
        // Entries inside a 0700 directory cannot be reached by others: counted, not failed.
        const walk = (directory) => {
          for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
            const full = path.join(directory, entry.name);
            if (fs.lstatSync(full).mode & 0o002) shielded.set(umask, (shielded.get(umask) ?? 0) + 1);
            if (entry.isDirectory()) walk(full);
          }
        };
        walk(root);
      }
      if (problems.length > 0) failures.push(`umask ${umask}, root via ${where}: ${problems.slice(0, 6).join('; ')}${problems.length > 6 ? ` … (${problems.length} in all)` : ''}`);
      fs.rmSync(home, { recursive: true, force: true });
    }
  }
  record('permissions: cache root and extractions 0700, locks not world-writable', rounds, failures, `umask 022 and 000; root from SHIV_ROOT and from HOME; world-writable entries inside the 0700 directories: ${['022', '000'].map((umask) => `umask ${umask}: ${shielded.get(umask) ?? 0}`).join(', ')}`);
}

// ------------------------------------------------------------------------------------------ fuzz

/**
 * A ZIP64-structured pyz written by hand (the writer only uses ZIP64 when a value does not fit):
 * every central header carries a ZIP64 extra field, the end record is saturated and points to a
 * ZIP64 end record through its locator, in both the outer zip and the nested payload.
 */
function craftZip64(entries, prefix = Buffer.alloc(0)) {
  const chunks = [prefix];
  let offset = prefix.length;
  const central = [];
  for (const { name, data, mode = 0o644 } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const crc = crc32Of(data);
    const localExtra = Buffer.alloc(20);
    localExtra.writeUInt16LE(0x0001, 0);
    localExtra.writeUInt16LE(16, 2);
    localExtra.writeBigUInt64LE(BigInt(data.length), 4);
    localExtra.writeBigUInt64LE(BigInt(data.length), 12);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(45, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x5021, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(0xffffffff, 18);
    local.writeUInt32LE(0xffffffff, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(localExtra.length, 28);
    const centralExtra = Buffer.alloc(28);
    centralExtra.writeUInt16LE(0x0001, 0);
    centralExtra.writeUInt16LE(24, 2);
    centralExtra.writeBigUInt64LE(BigInt(data.length), 4);
    centralExtra.writeBigUInt64LE(BigInt(data.length), 12);
    centralExtra.writeBigUInt64LE(BigInt(offset), 20);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE((3 << 8) | 45, 4);
    header.writeUInt16LE(45, 6);
    header.writeUInt16LE(0x0800, 8);
    header.writeUInt16LE(0, 10);
    header.writeUInt16LE(0, 12);
    header.writeUInt16LE(0x5021, 14);
    header.writeUInt32LE(crc, 16);
    header.writeUInt32LE(0xffffffff, 20);
    header.writeUInt32LE(0xffffffff, 24);
    header.writeUInt16LE(nameBytes.length, 28);
    header.writeUInt16LE(centralExtra.length, 30);
    header.writeUInt32LE(((0o100000 | mode) << 16) >>> 0, 38);
    header.writeUInt32LE(0xffffffff, 42);
    central.push(header, nameBytes, centralExtra);
    chunks.push(local, nameBytes, localExtra, data);
    offset += local.length + nameBytes.length + localExtra.length + data.length;
  }
  const centralBytes = Buffer.concat(central);
  const centralOffset = offset;
  const record = Buffer.alloc(56);
  record.writeUInt32LE(0x06064b50, 0);
  record.writeBigUInt64LE(44n, 4);
  record.writeUInt16LE((3 << 8) | 45, 12);
  record.writeUInt16LE(45, 14);
  record.writeBigUInt64LE(BigInt(entries.length), 24);
  record.writeBigUInt64LE(BigInt(entries.length), 32);
  record.writeBigUInt64LE(BigInt(centralBytes.length), 40);
  record.writeBigUInt64LE(BigInt(centralOffset), 48);
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(centralOffset + centralBytes.length), 8);
  locator.writeUInt32LE(1, 16);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([...chunks, centralBytes, record, locator, end]);
}

let crcTable;
function crc32Of(data) {
  if (!crcTable) {
    crcTable = new Int32Array(256);
    for (let index = 0; index < 256; index++) {
      let value = index;
      for (let bit = 0; bit < 8; bit++) value = value & 1 ? 0xedb88320 ^ (value >>> 1) : value >>> 1;
      crcTable[index] = value;
    }
  }
  let crc = -1;
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

/** Byte ranges of the structures of a zip (and of its nested payload), for targeted mutations. */
function structureOf(bytes, start = 0, end = bytes.length, label = '') {
  const regions = [];
  let eocd = -1;
  for (let position = end - 22; position >= Math.max(start, end - 22 - 65535); position--) {
    if (bytes.readUInt32LE(position) === 0x06054b50) {
      eocd = position;
      break;
    }
  }
  if (eocd < 0) return regions;
  regions.push({ name: `${label}eocd`, start: eocd, end: Math.min(end, eocd + 22) });
  let centralOffset = bytes.readUInt32LE(eocd + 16);
  let centralSize = bytes.readUInt32LE(eocd + 12);
  if (eocd - 20 >= start && bytes.readUInt32LE(eocd - 20) === 0x07064b50) {
    regions.push({ name: `${label}zip64-locator`, start: eocd - 20, end: eocd });
    const record = start + Number(bytes.readBigUInt64LE(eocd - 12));
    if (record >= start && record + 56 <= eocd) {
      regions.push({ name: `${label}zip64-record`, start: record, end: record + 56 });
      centralSize = Number(bytes.readBigUInt64LE(record + 40));
      centralOffset = Number(bytes.readBigUInt64LE(record + 48));
    }
  }
  const centralStart = start + centralOffset;
  regions.push({ name: `${label}central-directory`, start: centralStart, end: centralStart + centralSize });
  let position = centralStart;
  while (position + 46 <= centralStart + centralSize && bytes.readUInt32LE(position) === 0x02014b50) {
    const nameLength = bytes.readUInt16LE(position + 28);
    const extraLength = bytes.readUInt16LE(position + 30);
    const commentLength = bytes.readUInt16LE(position + 32);
    const name = bytes.toString('utf8', position + 46, position + 46 + nameLength);
    let localOffset = bytes.readUInt32LE(position + 42);
    let compressedSize = bytes.readUInt32LE(position + 20);
    if (localOffset === 0xffffffff || compressedSize === 0xffffffff) {
      // ZIP64 extra: sizes then offset (as craftZip64 writes them).
      const extra = position + 46 + nameLength;
      if (bytes.readUInt16LE(extra) === 0x0001) {
        compressedSize = Number(bytes.readBigUInt64LE(extra + 12));
        localOffset = Number(bytes.readBigUInt64LE(extra + 20));
      }
    }
    const local = start + localOffset;
    if (local + 30 <= end && bytes.readUInt32LE(local) === 0x04034b50) {
      const localName = bytes.readUInt16LE(local + 26);
      const localExtra = bytes.readUInt16LE(local + 28);
      regions.push({ name: `${label}local-header`, start: local, end: local + 30 + localName + localExtra });
      const dataStart = local + 30 + localName + localExtra;
      if (name.endsWith('.zip') && label === '') {
        regions.push({ name: 'payload', start: dataStart, end: dataStart + compressedSize });
        regions.push(...structureOf(bytes, dataStart, dataStart + compressedSize, 'payload-'));
      } else if (compressedSize > 0) regions.push({ name: `${label}entry-data`, start: dataStart, end: dataStart + compressedSize });
    }
    position += 46 + nameLength + extraLength + commentLength;
  }
  return regions;
}

const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xffff, 0x10000, 46, 22];
const INTERESTING_16 = [0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff, 46, 22];

/** One fuzz case: a seed archive and 1–3 mutations, all derived from `seed`. */
function mutate(seeds, seed) {
  const random = rng(seed * 2654435761);
  const source = random.pick(seeds);
  let bytes = Buffer.from(source.bytes);
  const operations = [];
  const count = random.next() < 0.6 ? 1 : 2 + random.int(2);
  // Kind of structure first (EOCD, ZIP64 locator, central directory …), then one of that kind:
  // otherwise the many local headers and entry bodies would get nearly every mutation.
  const kinds = [...new Set(source.regions.map((region) => region.name))];
  for (let step = 0; step < count; step++) {
    const kindName = random.pick(kinds);
    const region = random.next() < 0.1 ? { name: 'anywhere', start: 0, end: bytes.length } : random.pick(source.regions.filter((item) => item.name === kindName));
    const from = Math.min(region.start, bytes.length - 1);
    const to = Math.max(from + 1, Math.min(region.end, bytes.length));
    const at = from + random.int(to - from);
    const kind = random.pick(['bitflip', 'byte', 'u16', 'u32', 'truncate', 'splice', 'delete', 'insert', 'duplicate']);
    switch (kind) {
      case 'bitflip':
        for (let flip = 1 + random.int(4); flip > 0; flip--) {
          const where = from + random.int(to - from);
          bytes[where] ^= 1 << random.int(8);
        }
        break;
      case 'byte':
        bytes[at] = random.int(256);
        break;
      case 'u16':
        if (at + 2 <= bytes.length) bytes.writeUInt16LE(random.next() < 0.7 ? random.pick(INTERESTING_16) : random.int(65536), at);
        break;
      case 'u32':
        if (at + 4 <= bytes.length) bytes.writeUInt32LE(random.next() < 0.7 ? random.pick(INTERESTING_32) : random.int(2 ** 32) >>> 0, at);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'splice': {
        const length = 1 + random.int(64);
        const sourceStart = random.int(Math.max(1, bytes.length - length));
        Buffer.from(bytes.subarray(sourceStart, sourceStart + length)).copy(bytes, at);
        break;
      }
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + random.int(64)))]);
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), randomBytesFrom(random, 1 + random.int(64)), bytes.subarray(at)]);
        break;
      case 'duplicate': {
        const length = Math.min(to - from, 46 + random.int(64));
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(from, from + length), bytes.subarray(at)]);
        break;
      }
    }
    operations.push(`${kind}@${region.name}:${at}`);
  }
  return { bytes, description: `${source.name}: ${operations.join(', ')}` };
}

function randomBytesFrom(random, length) {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = random.int(256);
  return bytes;
}

/** Worker: runs fuzz cases on request; the main thread times each one and replaces a hung worker. */
async function fuzzWorker() {
  const { seedsFile, caseFile, dist, allocationLimit } = workerData;
  const core = await import(pathToFileURL(path.join(dist, 'index.js')).href);
  const { ZipArchive } = await import(pathToFileURL(path.join(dist, 'zip', 'index.js')).href);
  const seeds = JSON.parse(fs.readFileSync(seedsFile, 'utf8')).map((seed) => ({ ...seed, bytes: Buffer.from(seed.bytes, 'base64') }));
  // A crafted length must never turn into a huge allocation: every Buffer allocation is checked.
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow']) {
    const original = Buffer[name];
    Buffer[name] = function (size, ...rest) {
      if (size > allocationLimit) throw Object.assign(new Error(`allocation of ${size} bytes`), { hugeAllocation: true });
      return original.call(this, size, ...rest);
    };
  }
  const classify = (error) => {
    if (error?.hugeAllocation) return { outcome: 'huge allocation', failure: true };
    if (error instanceof core.PyzError) return { outcome: `PyzError ${error.code}`, failure: false };
    return { outcome: `${error?.constructor?.name ?? typeof error}`, failure: true };
  };
  const exercise = async (file) => {
    const archive = await ZipArchive.open(file);
    try {
      for (const entry of archive.entries) {
        if (entry.isDirectory) continue;
        await archive.read(entry);
        if (entry.name.endsWith('.zip') && entry.method === 0) {
          const nested = await archive.openNested(entry);
          try {
            for (const inner of nested.entries) if (!inner.isDirectory) await nested.read(inner);
          } finally {
            await nested.close();
          }
        }
      }
    } finally {
      await archive.close();
    }
    await core.readPyzInfo(file, { listFiles: true });
  };
  parentPort.on('message', async ({ seed }) => {
    const { bytes, description } = mutate(seeds, seed);
    fs.writeFileSync(caseFile, bytes);
    let outcome = 'success';
    let failure = false;
    let detail = '';
    try {
      await exercise(caseFile);
    } catch (error) {
      ({ outcome, failure } = classify(error));
      if (failure) detail = String(error?.stack ?? error).split('\n').slice(0, 4).join(' | ');
    }
    parentPort.postMessage({ seed, outcome, failure, description, detail });
  });
  parentPort.postMessage({ ready: true });
}

async function scenarioFuzz(context, onlySeed) {
  const { scale, workspace, core, smallPyz, uncompressedPyz } = context;
  const seedsFile = path.join(workspace, 'fuzz-seeds.json');
  const seeds = [];
  const addSeed = (name, bytes) => seeds.push({ name, bytes: bytes.toString('base64'), regions: structureOf(bytes) });
  addSeed('compressed', fs.readFileSync(smallPyz));
  addSeed('stored', fs.readFileSync(uncompressedPyz));
  const environment = Buffer.from(JSON.stringify({ build_id: 'f'.repeat(64), payload: PAYLOAD_MEMBER, entry_point: 'relapp.main:main', hashes: {} }));
  const nested = craftZip64([
    { name: 'relapp/__init__.py', data: Buffer.from('') },
    { name: 'relapp/main.py', data: Buffer.from('def main():\n    print("zip64")\n') },
    { name: 'relapp/bin/tool', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
  ]);
  addSeed('zip64', craftZip64([
    { name: '__main__.py', data: Buffer.from('import _pyz_bootstrap; _pyz_bootstrap.run()\n') },
    { name: PAYLOAD_MEMBER, data: nested },
    { name: 'environment.json', data: environment },
  ], Buffer.from('#!/usr/bin/env python3\n')));
  fs.writeFileSync(seedsFile, JSON.stringify(seeds));
  // Every seed must be valid, or the fuzzer measures nothing.
  const seedFailures = [];
  for (const seed of seeds) {
    const file = path.join(workspace, `fuzz-seed-${seed.name}.pyz`);
    fs.writeFileSync(file, Buffer.from(seed.bytes, 'base64'));
    try {
      const info = await core.readPyzInfo(file, { listFiles: true });
      if (!info.files?.length) seedFailures.push(`seed ${seed.name} lists no files`);
    } catch (error) {
      seedFailures.push(`seed ${seed.name} is not readable: ${error.message}`);
    }
    const python = run(PYTHON, ['-c', 'import io, sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; n = zipfile.ZipFile(io.BytesIO(z.read("' + PAYLOAD_MEMBER + '"))); assert n.testzip() is None', file]);
    if (python.status !== 0) seedFailures.push(`seed ${seed.name} rejected by Python's zipfile: ${short(python.stderr)}`);
  }
  const largest = Math.max(...seeds.map((seed) => Buffer.from(seed.bytes, 'base64').length));
  const caseFile = path.join(fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/pyz-fuzz-') : workspace, 'case.pyz');
  const seedsToRun = onlySeed !== undefined ? [onlySeed] : Array.from({ length: scale.fuzzCases }, (_, index) => index + 1);
  const counts = new Map();
  const failing = [];
  let worker = null;
  let pendingResolve = null;
  const newWorker = async () => {
    worker = new Worker(fileURLToPath(import.meta.url), {
      workerData: { seedsFile, caseFile, dist: CORE_DIST, allocationLimit: Math.max(64 * 1024 * 1024, largest * 64) },
      resourceLimits: { maxOldGenerationSizeMb: 512 },
    });
    worker.on('message', (message) => pendingResolve?.(message));
    worker.on('error', (error) => pendingResolve?.({ crashed: String(error?.code ?? error) }));
    worker.on('exit', (code) => pendingResolve?.({ crashed: `worker exited with ${code}` }));
    const ready = await new Promise((resolve) => (pendingResolve = resolve));
    if (!ready.ready) throw new Error(`fuzz worker did not start: ${JSON.stringify(ready)}`);
  };
  await newWorker();
  const started = performance.now();
  for (const seed of seedsToRun) {
    const message = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ hung: true }), 2000);
      pendingResolve = (value) => {
        clearTimeout(timer);
        resolve(value);
      };
      worker.postMessage({ seed });
    });
    pendingResolve = null;
    let outcome;
    if (message.hung || message.crashed) {
      outcome = message.hung ? 'hang > 2 s' : `worker crash (${message.crashed})`;
      const { description } = mutate(seeds.map((item) => ({ ...item, bytes: Buffer.from(item.bytes, 'base64') })), seed);
      failing.push(`seed ${seed}: ${outcome} — ${description}`);
      worker.removeAllListeners();
      await worker.terminate();
      await newWorker();
    } else {
      outcome = message.outcome;
      if (message.failure) failing.push(`seed ${seed}: ${outcome} — ${message.description} — ${message.detail}`);
      if (onlySeed !== undefined) process.stderr.write(`seed ${seed}: ${outcome}\n  mutation: ${message.description}\n  ${message.detail}\n  input kept at ${caseFile}\n`);
    }
    counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  }
  worker.removeAllListeners();
  await worker.terminate();
  if (onlySeed === undefined) fs.rmSync(path.dirname(caseFile) === workspace ? caseFile : path.dirname(caseFile), { recursive: true, force: true });
  const seconds = (performance.now() - started) / 1000;
  const summary = [...counts.entries()].sort((left, right) => right[1] - left[1]).map(([outcome, count]) => `${outcome}: ${count}`).join(', ');
  record(
    'fuzzed archives: ZipArchive (+ every entry, openNested) and readPyzInfo --list',
    seedsToRun.length + seeds.length,
    [...seedFailures, ...failing],
    `${seedsToRun.length} cases in ${seconds.toFixed(1)} s over ${seeds.length} seeds (compressed, stored, ZIP64); outcomes: ${summary}; reproduce: --only fuzz --fuzz-seed N`,
  );
}

// ------------------------------------------------------------------------------------------ main

function parseArguments(argv) {
  const options = { scale: 'small', only: null, fuzzSeed: undefined, keep: false };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    const value = () => argv[++index];
    if (argument === '--scale') options.scale = value();
    else if (argument.startsWith('--scale=')) options.scale = argument.slice(8);
    else if (argument === '--only') options.only = value().split(',');
    else if (argument.startsWith('--only=')) options.only = argument.slice(7).split(',');
    else if (argument === '--fuzz-seed') options.fuzzSeed = Number(value());
    else if (argument === '--keep') options.keep = true;
    else if (argument === '-h' || argument === '--help') {
      process.stdout.write('usage: node scripts/reliability.mjs [--scale small|full] [--only GROUP[,GROUP…]] [--fuzz-seed N] [--keep]\n');
      process.exit(0);
    } else {
      process.stderr.write(`reliability: unknown argument ${argument}\n`);
      process.exit(2);
    }
  }
  if (!(options.scale in SCALES)) {
    process.stderr.write(`reliability: --scale must be small or full, not ${options.scale}\n`);
    process.exit(2);
  }
  return options;
}

function printTable(scaleName, seconds) {
  const escape = (text) => String(text).replace(/\|/g, '\\|');
  const lines = [
    `## pyz reliability — scale ${scaleName}, ${seconds.toFixed(0)} s, node ${process.version}, ${PYTHON} ${run(PYTHON, ['-c', 'import sys; print("%d.%d.%d" % sys.version_info[:3])']).stdout.trim()}, ${os.cpus().length} CPUs`,
    '',
    '| scenario | rounds | passed | failed | notes |',
    '|---|---:|---:|---:|---|',
    ...results.map((result) => `| ${escape(result.scenario)} | ${result.rounds} | ${result.passed} | ${result.failed} | ${escape(result.notes)} |`),
  ];
  const failed = results.filter((result) => result.failed > 0);
  if (failed.length > 0) {
    lines.push('', '### Failures', '');
    for (const result of failed) {
      lines.push(`- **${result.scenario}**`);
      for (const failure of result.failures.slice(0, 20)) lines.push(`  - ${short(failure, 1200)}`);
      if (result.failures.length > 20) lines.push(`  - … ${result.failures.length - 20} more`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  const scale = SCALES[options.scale];
  if (!fs.existsSync(path.join(CORE_DIST, 'index.js'))) {
    process.stderr.write(`reliability: ${CORE_DIST}/index.js not found; run "npm run build" first\n`);
    process.exit(2);
  }
  const core = await import(pathToFileURL(path.join(CORE_DIST, 'index.js')).href);
  const began = performance.now();
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'pyz-reliability-'));
  fs.chmodSync(workspace, 0o755); // `nobody` must reach the cases that run as nobody
  process.env.PIP_RETRIES = '0';
  process.stderr.write(`reliability: scale ${options.scale}, workspace ${workspace}\n`);
  const wants = (group) => options.only === null || options.only.includes(group);
  try {
    const smallSite = makeSite(path.join(workspace, 'site-small'), { files: 40, lazy: 20 });
    const bigSite = makeSite(path.join(workspace, 'site-big'), { files: scale.bigFiles, lazy: scale.lazyModules });
    const bigSiteV2 = makeSite(path.join(workspace, 'site-big-v2'), { files: scale.bigFiles, lazy: scale.lazyModules, variant: 'v2' });
    const builds = path.join(workspace, 'builds');
    fs.mkdirSync(builds, { mode: 0o755 });
    const build = (site, name, extra = {}) => core.buildPyz({ config: false, sitePackages: [site], entryPoint: 'relapp.main:main', output: path.join(builds, name), log: { info() {}, warn() {} }, ...extra });
    await build(smallSite, 'small.pyz');
    await build(smallSite, 'small-stored.pyz', { compressed: false });
    await build(smallSite, 'nomodify.pyz', { noModify: true });
    await build(bigSite, 'big.pyz');
    const context = {
      scale,
      core,
      workspace,
      smallSite,
      bigSite,
      bigSiteV2,
      smallPyz: path.join(builds, 'small.pyz'),
      publicSmallPyz: path.join(builds, 'small.pyz'),
      uncompressedPyz: path.join(builds, 'small-stored.pyz'),
      noModifyPyz: path.join(builds, 'nomodify.pyz'),
      bigPyz: path.join(builds, 'big.pyz'),
    };
    context.smallPayload = await payloadOf(core, context.smallPyz);
    context.noModifyPayload = await payloadOf(core, context.noModifyPyz);
    context.bigPayload = await payloadOf(core, context.bigPyz);
    run('chmod', ['-R', 'a+rX', builds]);

    if (options.fuzzSeed !== undefined) {
      await scenarioFuzz(context, options.fuzzSeed);
    } else {
      if (wants('concurrent')) await guarded('concurrent start', () => scenarioConcurrent(context));
      if (wants('kill-run')) await guarded('killed first run', () => scenarioKillRun(context));
      if (wants('damaged')) await guarded('damaged caches', () => scenarioDamaged(context));
      if (wants('force-extract')) await guarded('forced re-extraction', () => scenarioForceExtract(context));
      if (wants('kill-build')) await guarded('killed build', () => scenarioKillBuild(context));
      if (wants('bad-input')) await guarded('bad input', () => scenarioBadInput(context));
      if (wants('archive-safety')) await guarded('archive safety', () => scenarioArchiveSafety(context));
      if (wants('permissions')) await guarded('permissions', () => scenarioPermissions(context));
      if (wants('fuzz')) await guarded('fuzz', () => scenarioFuzz(context));
    }
  } finally {
    if (!options.keep) fs.rmSync(workspace, { recursive: true, force: true });
  }
  if (results.length === 0) {
    process.stderr.write(`reliability: no scenario ran (--only ${options.only})\n`);
    process.exit(2);
  }
  printTable(options.scale, (performance.now() - began) / 1000);
  process.exit(results.some((result) => result.failed > 0) ? 1 : 0);
}

// The worker thread of the fuzzer runs this same file (top-level declarations must exist first).
if (isMainThread) await main();
else await fuzzWorker();
