/**
 * `runtime`: what a user waits for when the archive starts.
 *
 * - warm start: `python3 app.pyz` with the cache already extracted, minus `python3 -c pass`,
 *   interleaved, ≥ 20 runs, median. PYTHONDONTWRITEBYTECODE is unset (bytecode caching is part
 *   of a real start). Reference: a plain zipapp of the same tree (zipimport over every file —
 *   the layout shiv uses), and shiv itself when a `shiv` executable is available.
 * - first run (cold): a fresh SHIV_ROOT every run, so the run extracts everything, against a
 *   single-threaded `zipfile.extractall` of the same files (a zip of the corpus, level 6). The
 *   extracted trees stay until the end of the suite (about 10 × the corpus on disk). Before
 *   each cold run, `sync` and a pause (settleWriteback): no run pays for the writeback of the
 *   runs before it.
 *
 * Each archive is checked before it is timed: the build's outputs pass zipfile's testzip, the
 * first run exits 0, and the first cold run extracts exactly the corpus's files.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pyzContender } from '../contenders.mjs';
import { ENTRY_POINT, measureTree, prepareCorpus, prepareEntry } from '../corpus.mjs';
import { PYTHON, PYTHON_HELPERS, childEnvironment, formatMegabytes, log, markdownTable, median, spreadPercent, validateWithPython } from '../lib.mjs';
import { scratchDirectory } from './build.mjs';

/** Runs once, synchronously, and returns wall milliseconds; throws with output on failure. */
function timeOnce(command, args, environment) {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { env: environment, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${result.status}: ${(result.stderr || result.stdout).trim().slice(-1500)}`);
  return { wallMs, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Writes back what earlier runs left dirty (`sync`), then waits SETTLE_MS. Each cold run leaves
 * ~the corpus of dirty pages and a journal full of new inodes; the kernel writes them back on its
 * own schedule (the journal every 5 s, data after 30 s), and when that lands inside a timed run
 * it takes CPU from it: with ext4 on a loop device, writeback is a memory copy on the CPU, and it
 * runs on whichever core is free, which for a single-threaded extraction is the idle second core
 * but for pyz one of its two workers' (medium corpus, 8 interleaved runs each: pyz 284 ms
 * median, 276-304, without; 273 ms, 264-276, with; zipfile.extractall 522 and 520 ms).
 */
const SETTLE_MS = 300;
function settleWriteback() {
  spawnSync('sync', [], { stdio: 'ignore' });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, SETTLE_MS);
}

/** (pyz first run − interpreter start) / (zipfile.extractall − interpreter start): extraction alone. */
function extractionRatio(result) {
  const start = result.warm['python3 -c pass'].medianMs;
  return (result.cold['pyz first run'].medianMs - start) / (result.cold['zipfile.extractall'].medianMs - start);
}

/** Start-up runs: bytecode caching on, as on a server. */
function startEnvironment(extra) {
  return childEnvironment({ PYTHONDONTWRITEBYTECODE: undefined, SHIV_FORCE_EXTRACT: undefined, SHIV_ROOT: undefined, ...extra });
}

function findShiv(explicit) {
  const candidates = explicit ? [explicit] : ['shiv'];
  for (const candidate of candidates) {
    const result = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (result.status === 0) return { command: candidate, version: result.stdout.trim() };
  }
  const module = spawnSync(PYTHON, ['-m', 'shiv', '--version'], { encoding: 'utf8' });
  if (module.status === 0) return { command: null, module: true, version: module.stdout.trim() };
  return null;
}

/** Directories a run extracted into: <root>/<name>_<build id>/site-packages. */
function extractedFiles(root) {
  const found = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    const sitePackages = path.join(root, entry.name, 'site-packages');
    if (entry.isDirectory() && fs.existsSync(sitePackages)) found.push({ directory: entry.name, ...measureTree(sitePackages) });
  }
  return found;
}

function stats(values) {
  return { medianMs: median(values), spreadPercent: spreadPercent(values), runs: values.length, allMs: values.map((value) => Math.round(value * 10) / 10) };
}

async function runtimeForCorpus(name, options, scratch) {
  const corpus = prepareCorpus(name);
  const entrySite = prepareEntry();
  const entry = { site: entrySite, ...measureTree(entrySite) };
  const expectedFiles = corpus.files + entry.files;
  const directory = fs.mkdtempSync(path.join(scratch, `${name}-`));
  const notes = [];

  // --- build and check the archives (not timed here; the build suite times builds)
  const pyz = pyzContender({ backend: options.runtimeBackend, level: 6, corpus, outputDirectory: directory, entryPoint: ENTRY_POINT, extraSites: [entry], checkInfo: !options.skipInfoCheck });
  log(`runtime ${name}: building pyz (${options.runtimeBackend}) with entry ${ENTRY_POINT}`);
  const built = await pyz.run();
  pyz.validate(built);
  const zipappPath = path.join(directory, 'zipapp.pyz');
  timeOnce(PYTHON, [path.join(PYTHON_HELPERS, 'make_zipapp.py'), zipappPath, ENTRY_POINT, corpus.site, entrySite], childEnvironment());
  const zipappCheck = validateWithPython(zipappPath);
  if (zipappCheck.outer.files !== expectedFiles + 1) throw new Error(`reference zipapp has ${zipappCheck.outer.files} files, expected ${expectedFiles + 1}`);
  const baselineZip = path.join(directory, 'corpus.zip');
  timeOnce(PYTHON, [path.join(PYTHON_HELPERS, 'zip_tree.py'), corpus.site, baselineZip, '6'], childEnvironment());
  if (validateWithPython(baselineZip).outer.files !== corpus.files) throw new Error('baseline zip does not hold the corpus');

  let shivPath = null;
  const shiv = options.shivInfo;
  if (shiv) {
    shivPath = path.join(directory, 'shiv.pyz');
    const shivArgs = ['--site-packages', corpus.site, '--site-packages', entrySite, '-e', ENTRY_POINT, '-o', shivPath, '--reproducible'];
    try {
      if (shiv.command) timeOnce(shiv.command, shivArgs, childEnvironment());
      else timeOnce(PYTHON, ['-m', 'shiv', ...shivArgs], childEnvironment());
      const checked = validateWithPython(shivPath);
      if (checked.outer.files < expectedFiles) throw new Error(`shiv archive has ${checked.outer.files} files, expected ≥ ${expectedFiles}`);
    } catch (error) {
      notes.push(`shiv build failed: ${error.message.split('\n')[0]}`);
      shivPath = null;
    }
  }

  // --- warm start: extract once, check it runs, then interleave
  const warmRoot = path.join(directory, 'warm-root');
  fs.mkdirSync(warmRoot);
  const warmEnvironment = startEnvironment({ SHIV_ROOT: warmRoot });
  const starts = [
    { id: 'python3 -c pass', args: ['-c', 'pass'] },
    { id: 'pyz', args: [pyz.output] },
    { id: 'zipapp (zipimport, whole tree)', args: [zipappPath] },
    ...(shivPath ? [{ id: 'shiv', args: [shivPath] }] : []),
  ];
  const failures = {};
  for (const start of starts) {
    // Two untimed runs: the first extracts (pyz, shiv), the second writes bytecode caches.
    // A reference that cannot start is reported, not timed; pyz failing to start is fatal.
    try {
      timeOnce(PYTHON, start.args, warmEnvironment);
      timeOnce(PYTHON, start.args, warmEnvironment);
    } catch (error) {
      if (start.id === 'pyz' || start.id === 'python3 -c pass') throw error;
      failures[start.id] = error.message.split('\n').filter(Boolean).at(-1).replace(/^.*?: /, '').slice(0, 200);
      notes.push(`${start.id} cannot start: ${failures[start.id]}`);
    }
  }
  const timedStarts = starts.filter((start) => !(start.id in failures));
  const warmTimes = new Map(timedStarts.map((start) => [start.id, []]));
  for (let round = 0; round < options.warmRuns; round++) {
    for (let index = 0; index < timedStarts.length; index++) {
      const start = timedStarts[(index + round) % timedStarts.length];
      warmTimes.get(start.id).push(timeOnce(PYTHON, start.args, warmEnvironment).wallMs);
    }
  }
  const warm = Object.fromEntries([...warmTimes].map(([id, values]) => [id, stats(values)]));
  for (const [id, reason] of Object.entries(failures)) warm[id] = { error: reason };
  const baselineMs = warm['python3 -c pass'].medianMs;

  // --- first run: fresh SHIV_ROOT each time, against zipfile.extractall
  const colds = [
    { id: 'pyz first run', run: (root) => timeOnce(PYTHON, [pyz.output], startEnvironment({ SHIV_ROOT: root })) },
    { id: 'zipfile.extractall', run: (root) => timeOnce(PYTHON, [path.join(PYTHON_HELPERS, 'extract_all.py'), baselineZip, root], startEnvironment({})) },
    ...(shivPath ? [{ id: 'shiv first run', run: (root) => timeOnce(PYTHON, [shivPath], startEnvironment({ SHIV_ROOT: root })) }] : []),
  ];
  const coldTimes = new Map(colds.map((cold) => [cold.id, []]));
  for (let round = 0; round < options.coldRuns; round++) {
    for (let index = 0; index < colds.length; index++) {
      const cold = colds[(index + round) % colds.length];
      const root = fs.mkdtempSync(path.join(directory, 'cold-'));
      settleWriteback();
      coldTimes.get(cold.id).push(cold.run(root).wallMs);
      if (round === 0 && cold.id === 'pyz first run') {
        const extracted = extractedFiles(root);
        if (extracted.length !== 1 || extracted[0].files !== expectedFiles) {
          throw new Error(`first run of the pyz extracted ${JSON.stringify(extracted)}, expected one directory with ${expectedFiles} files`);
        }
      }
      // Kept until the suite's scratch directory goes: on ext4 without a journal, inode
      // allocation skips every inode freed in the last 60 s or more (fs/ext4/ialloc.c
      // recently_deleted), so deleting a run's thousands of files here would slow the file
      // creation of the next runs several times over (both contenders, unevenly).
    }
  }
  const cold = Object.fromEntries([...coldTimes].map(([id, values]) => [id, stats(values)]));

  return {
    corpus: { name, files: corpus.files, bytes: corpus.bytes },
    archives: {
      pyz: { bytes: fs.statSync(pyz.output).size, backend: built.buildResult.backend, buildId: built.buildResult.buildId },
      zipapp: { bytes: fs.statSync(zipappPath).size },
      ...(shivPath ? { shiv: { bytes: fs.statSync(shivPath).size } } : {}),
    },
    warm,
    overheadMs: Object.fromEntries(Object.entries(warm).filter(([id, value]) => id !== 'python3 -c pass' && !value.error).map(([id, value]) => [id, value.medianMs - baselineMs])),
    cold,
    notes,
  };
}

function warmCells(result, id) {
  const warm = result.warm[id];
  if (!warm) return ['—', '—'];
  if (warm.error) return ['does not start', '—'];
  return [warm.medianMs.toFixed(1), result.overheadMs[id].toFixed(1)];
}

function runtimeTables(results, options) {
  const warmHeader = ['corpus', 'files', 'pyz MB', '`python3 -c pass` ms', 'pyz warm ms', 'pyz overhead ms', 'zipapp warm ms', 'zipapp overhead ms', ...(options.shivInfo ? ['shiv warm ms', 'shiv overhead ms'] : [])];
  const warmRows = results.map((result) => [
    result.corpus.name,
    String(result.corpus.files),
    formatMegabytes(result.archives.pyz.bytes),
    result.warm['python3 -c pass'].medianMs.toFixed(1),
    result.warm.pyz.medianMs.toFixed(1),
    result.overheadMs.pyz.toFixed(1),
    ...warmCells(result, 'zipapp (zipimport, whole tree)'),
    ...(options.shivInfo ? warmCells(result, 'shiv') : []),
  ]);
  const coldHeader = ['corpus', 'files', 'MB', 'pyz first run ms', 'zipfile.extractall ms', 'pyz / extractall', 'extraction only', ...(options.shivInfo ? ['shiv first run ms'] : [])];
  const coldRows = results.map((result) => [
    result.corpus.name,
    String(result.corpus.files),
    formatMegabytes(result.corpus.bytes),
    result.cold['pyz first run'].medianMs.toFixed(0),
    result.cold['zipfile.extractall'].medianMs.toFixed(0),
    (result.cold['pyz first run'].medianMs / result.cold['zipfile.extractall'].medianMs).toFixed(2),
    extractionRatio(result).toFixed(2),
    ...(options.shivInfo ? [result.cold['shiv first run'] ? result.cold['shiv first run'].medianMs.toFixed(0) : '—'] : []),
  ]);
  return [
    `### runtime — warm start (median of ${options.warmRuns} interleaved runs; overhead = median − median of \`python3 -c pass\`)`,
    '',
    markdownTable(warmHeader, warmRows, 'lrrrrrrrrr'),
    '',
    `### runtime — first run with a fresh SHIV_ROOT (median of ${options.coldRuns} interleaved runs, each after \`sync\`; the pyz time includes interpreter start-up)`,
    '',
    markdownTable(coldHeader, coldRows, 'lrrrrrrr'),
    '',
    '- extraction only: the same two medians less the median of `python3 -c pass` (warm table), i.e. without the interpreter start-up both pay; the issue\'s measure ("extraction ≤ 0.5× the time of single-threaded extraction with zipfile"). The start-up differs between interpreters: this machine\'s python3.11 imports certifi from a `.pth` file on every start (~20 ms).',
    options.shivInfo ? `- shiv: ${options.shivInfo.version}` : '- shiv: not measured — no `shiv` executable or module here (it is not in the local package index, so it cannot be installed offline; pass `--shiv PATH` to include it). The zipapp row stands in for shiv\'s layout: every file in the outer zip, read by zipimport on each start.',
    ...results.flatMap((result) => result.notes.map((note) => `- ${result.corpus.name}: ${note}`)),
  ].join('\n');
}

export async function runRuntimeSuite(options) {
  const scratch = scratchDirectory(options, 'runtime');
  options.shivInfo = findShiv(options.shiv || null);
  try {
    const results = [];
    for (const name of options.corpus) results.push(await runtimeForCorpus(name, options, scratch));
    return [{ results, shiv: options.shivInfo, markdown: runtimeTables(results, options) }];
  } finally {
    if (!options.keep) fs.rmSync(scratch, { recursive: true, force: true });
    else log(`runtime: archives kept in ${scratch}`);
  }
}
