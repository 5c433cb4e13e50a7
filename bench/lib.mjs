/**
 * Helpers shared by the benchmark scripts: machine description, statistics, child processes
 * with peak RSS, archive validation and result files. No dependencies beyond Node and the
 * system tools the suites name (python3, zip, /usr/bin/time).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIRECTORY = path.dirname(fileURLToPath(import.meta.url));
export const REPOSITORY_ROOT = path.dirname(BENCH_DIRECTORY);
export const RESULTS_DIRECTORY = path.join(BENCH_DIRECTORY, 'results');
/**
 * Root holding packages/core and native/ — the repository, or the frozen copy run.mjs makes so
 * that a colleague's `npm run build` in the middle of a benchmark cannot change the code under
 * test (children inherit PYZ_BENCH_CORE_ROOT).
 */
export function coreRoot() {
  return process.env.PYZ_BENCH_CORE_ROOT || REPOSITORY_ROOT;
}
export function coreEntry() {
  return path.join(coreRoot(), 'packages/core/dist/index.js');
}
export function pyzCli() {
  return path.join(coreRoot(), 'packages/core/dist/bin.js');
}
/**
 * The Python every child runs, resolved to its real executable: `python3` may be a pyenv shim
 * (a shell script) whose ~80 ms would be timed with every Python contender.
 */
export const PYTHON = resolvePython(process.env.PYZ_BENCH_PYTHON || 'python3');

function resolvePython(command) {
  const result = spawnSync(command, ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() ? result.stdout.trim() : command;
}
/** GNU time, for the peak RSS of any child (Python, zip, node alike). `apt-get install -y time`. */
export const GNU_TIME = fs.existsSync('/usr/bin/time') ? '/usr/bin/time' : null;

/** Environment for every child: no pip retries against the unreachable default index. */
export function childEnvironment(extra = {}) {
  const environment = { ...process.env, PIP_RETRIES: '0', ...extra };
  for (const [key, value] of Object.entries(extra)) if (value === undefined) delete environment[key];
  return environment;
}

export function median(values) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median absolute deviation relative to the median, as a percentage: how noisy a row was. */
export function spreadPercent(values) {
  const center = median(values);
  if (!(center > 0)) return NaN;
  return (median(values.map((value) => Math.abs(value - center))) / center) * 100;
}

function firstLine(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) return null;
  return `${result.stdout}${result.stderr}`.trim().split('\n')[0];
}

/** What the numbers were measured on; stored with every result file. */
export function machineInfo() {
  const cpuModel = os.cpus()[0]?.model?.trim() ?? 'unknown';
  let nproc = os.availableParallelism?.() ?? os.cpus().length;
  const fromNproc = firstLine('nproc', []);
  if (fromNproc) nproc = Number(fromNproc);
  return {
    nproc,
    cpuModel,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    python: firstLine(PYTHON, ['--version']),
    pythonExecutable: PYTHON,
    zip: spawnSync('zip', ['-v'], { encoding: 'utf8' }).stdout?.split('\n').find((line) => /This is Zip/.test(line))?.trim() ?? null,
    loadAverageAtStart: os.loadavg().map((value) => Math.round(value * 100) / 100),
  };
}

/** The exact command line that produced a result, as a user would retype it. */
export function commandLine() {
  const args = process.argv.slice(2).map((argument) => (/^[\w@%+=:,./-]+$/.test(argument) ? argument : `'${argument.replaceAll("'", "'\\''")}'`));
  return `node bench/${path.basename(process.argv[1])}${args.length ? ` ${args.join(' ')}` : ''}`;
}

export function today() {
  return new Date().toISOString().slice(0, 10);
}

/** Writes bench/results/<suite>-<date>.json (and -<date>-N.json if that exists), returns the path. */
export function writeResult(suite, payload) {
  fs.mkdirSync(RESULTS_DIRECTORY, { recursive: true });
  let file = path.join(RESULTS_DIRECTORY, `${suite}-${today()}.json`);
  for (let counter = 2; fs.existsSync(file); counter++) file = path.join(RESULTS_DIRECTORY, `${suite}-${today()}-${counter}.json`);
  const temporary = `${file}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(payload, null, 2)}\n`);
  fs.renameSync(temporary, file);
  return file;
}

/** The most recent result file of a suite (by date in the name, then counter), or null. */
export function latestResult(suite) {
  if (!fs.existsSync(RESULTS_DIRECTORY)) return null;
  const pattern = new RegExp(`^${suite}-(\\d{4}-\\d{2}-\\d{2})(?:-(\\d+))?\\.json$`);
  const candidates = fs
    .readdirSync(RESULTS_DIRECTORY)
    .map((name) => ({ name, match: pattern.exec(name) }))
    .filter((candidate) => candidate.match)
    .sort((left, right) => (left.match[1] === right.match[1] ? Number(left.match[2] ?? 1) - Number(right.match[2] ?? 1) : left.match[1] < right.match[1] ? -1 : 1));
  return candidates.length ? path.join(RESULTS_DIRECTORY, candidates.at(-1).name) : null;
}

/**
 * Runs a command to completion, timing its wall clock from spawn to exit and reading its peak
 * RSS through GNU time (`-f %M`, kibibytes) written to a side file so the child's own stderr
 * stays intact. Rejects on a non-zero exit with the child's output.
 */
export function runMeasured(command, args, options = {}) {
  const rssFile = GNU_TIME ? path.join(os.tmpdir(), `pyz-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
  const [program, programArgs] = GNU_TIME ? [GNU_TIME, ['-o', rssFile, '-f', '%M', command, ...args]] : [command, args];
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(program, programArgs, { cwd: options.cwd, env: options.env ?? childEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout = [];
    const stderr = [];
    child.stdout.on('data', (chunk) => stdout.push(chunk));
    child.stderr.on('data', (chunk) => stderr.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
      let peakRssKiB = null;
      if (rssFile) {
        try {
          const lines = fs.readFileSync(rssFile, 'utf8').trim().split('\n');
          peakRssKiB = Number(lines.at(-1));
        } catch {}
        fs.rmSync(rssFile, { force: true });
      }
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      if (code !== 0) {
        const error = new Error(`${command} ${args.join(' ')} exited with ${code ?? signal}\n${err.slice(-4000)}${out.slice(-2000)}`);
        error.stdout = out;
        error.stderr = err;
        reject(error);
        return;
      }
      resolve({ wallMs, peakRssKiB, stdout: out, stderr: err });
    });
  });
}

export function sha256File(file) {
  const hash = createHash('sha256');
  const descriptor = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let read; (read = fs.readSync(descriptor, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, read));
  } finally {
    fs.closeSync(descriptor);
  }
  return hash.digest('hex');
}

export const PYTHON_HELPERS = path.join(BENCH_DIRECTORY, 'python');

/**
 * Validates an archive with Python's zipfile (an independent reader): testzip() on the outer
 * zip and, when `nested` names a member, on that nested zip too. Returns the counts of file
 * (non-directory) entries; throws with the reason when anything is wrong.
 */
export function validateWithPython(archive, nested = null) {
  const args = [path.join(PYTHON_HELPERS, 'check_zip.py'), archive];
  if (nested) args.push('--nested', nested);
  const result = spawnSync(PYTHON, args, { encoding: 'utf8', env: childEnvironment(), maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`zipfile check of ${archive} failed: ${(result.stderr || result.stdout).trim().slice(-2000)}`);
  return JSON.parse(result.stdout);
}

export function formatMegabytes(bytes) {
  return (bytes / 1e6).toFixed(bytes >= 1e8 ? 0 : 1);
}

/** A GitHub-flavoured markdown table; `align` is a string of 'l'/'r' per column. */
export function markdownTable(header, rows, align = '') {
  const separator = header.map((_, index) => (align[index] === 'r' ? '---:' : '---'));
  return [header, separator, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}

/** Parses `--name value`, `--name=value` and bare `--flag`; lists are comma-separated. */
export function parseArguments(argv, defaults) {
  const options = { ...defaults };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index];
    if (argument === '--') continue;
    if (!argument.startsWith('--')) throw new Error(`unexpected argument "${argument}" (options look like --suite build)`);
    let [name, value] = argument.slice(2).split(/=(.*)/s, 2);
    const key = name.replace(/-([a-z])/g, (_, letter) => letter.toUpperCase());
    if (!(key in defaults)) throw new Error(`unknown option --${name}; known: ${Object.keys(defaults).map((known) => `--${known.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`).join(' ')}`);
    const current = defaults[key];
    if (typeof current === 'boolean' && value === undefined) {
      options[key] = true;
      continue;
    }
    if (value === undefined) value = argv[++index];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if (Array.isArray(current)) options[key] = value.split(',').map((item) => item.trim()).filter(Boolean);
    else if (typeof current === 'number') options[key] = Number(value);
    else if (typeof current === 'boolean') options[key] = /^(1|true|yes|on)$/i.test(value);
    else options[key] = value;
  }
  return options;
}

export function log(message) {
  process.stderr.write(`${message}\n`);
}
