/**
 * `incremental`: the edit-rebuild loop of a developer.
 *
 * A small app package (`benchapp`, built with flit_core) plus the medium corpus's requirements:
 *   1. full build — pip runs against an empty build cache (private XDG_CACHE_HOME);
 *   2. rebuild with nothing changed;
 *   3. edit one .py of the app and rebuild (repeated --runs times, a different edit each time).
 * Each build is a fresh `node` process (like `pyz build` from a script), timed from spawn to exit.
 * Reports rebuild wall / full build wall, BuildResult.pipRuns and reusedEntries, and checks every
 * rebuilt archive runs and prints the edit it should contain (a stale rebuild is a failure).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { CORPORA } from '../corpus.mjs';
import { BENCH_DIRECTORY, PYTHON, childEnvironment, log, markdownTable, median, runMeasured, validateWithPython } from '../lib.mjs';
import { scratchDirectory } from './build.mjs';

const APP_NAME = 'benchapp';

function writeApp(directory, corpusName) {
  const packageDirectory = path.join(directory, APP_NAME);
  fs.mkdirSync(packageDirectory, { recursive: true });
  fs.writeFileSync(
    path.join(directory, 'pyproject.toml'),
    ['[build-system]', 'requires = ["flit_core>=3.2"]', 'build-backend = "flit_core.buildapi"', '', '[project]', `name = "${APP_NAME}"`, 'version = "1.0.0"', 'description = "pyz incremental-rebuild benchmark app"', ''].join('\n'),
  );
  fs.writeFileSync(path.join(packageDirectory, '__init__.py'), '"""pyz incremental-rebuild benchmark app."""\n');
  for (let index = 0; index < 20; index++) fs.writeFileSync(path.join(packageDirectory, `view_${index}.py`), `def render():\n    return ${index}\n`);
  writeMain(directory, 0);
  fs.writeFileSync(path.join(directory, 'requirements.txt'), `${CORPORA[corpusName].packages.join('\n')}\n`);
}

function writeMain(directory, edit) {
  fs.writeFileSync(path.join(directory, APP_NAME, 'main.py'), `EDIT = ${edit}\n\n\ndef main():\n    print("benchapp edit", EDIT)\n    return 0\n`);
}

export async function runIncrementalSuite(options) {
  const corpusName = options.corpus[0] ?? 'medium';
  if (!CORPORA[corpusName]?.packages) throw new Error(`incremental needs a pip corpus (small, medium, large), not "${corpusName}"`);
  const scratch = scratchDirectory(options, 'incremental');
  const appDirectory = path.join(scratch, 'app');
  const cacheHome = path.join(scratch, 'xdg-cache');
  fs.mkdirSync(cacheHome);
  writeApp(appDirectory, corpusName);
  const output = path.join(scratch, 'app.pyz');
  const environment = childEnvironment({ XDG_CACHE_HOME: cacheHome, SOURCE_DATE_EPOCH: undefined });
  const buildOptions = { pipArgs: ['-r', path.join(appDirectory, 'requirements.txt'), appDirectory], entryPoint: `${APP_NAME}.main:main`, output, cwd: appDirectory, backend: options.runtimeBackend, level: 6, config: false };

  const build = async (label) => {
    const measured = await runMeasured(process.execPath, [path.join(BENCH_DIRECTORY, 'build-one.mjs'), JSON.stringify(buildOptions)], { env: environment });
    const result = JSON.parse(measured.stdout.trim().split('\n').at(-1));
    log(`incremental: ${label}: ${(measured.wallMs / 1000).toFixed(2)} s, pipRuns ${result.pipRuns}, reusedEntries ${result.reusedEntries}, timings ${JSON.stringify(result.timings)}`);
    return { label, wallMs: measured.wallMs, peakRssKiB: measured.peakRssKiB, pipRuns: result.pipRuns, reusedEntries: result.reusedEntries ?? null, files: result.files, timings: result.timings, sha256: result.sha256 };
  };
  /** The archive must open and run the current edit. */
  const check = (edit) => {
    validateWithPython(output, '_pyz_site_packages.zip');
    const root = fs.mkdtempSync(path.join(scratch, 'root-'));
    const result = spawnSync(PYTHON, [output], { encoding: 'utf8', env: childEnvironment({ SHIV_ROOT: root }) });
    fs.rmSync(root, { recursive: true, force: true });
    const expected = `benchapp edit ${edit}`;
    if (result.status !== 0 || result.stdout.trim() !== expected) throw new Error(`rebuilt archive is stale or broken: expected "${expected}", got exit ${result.status} "${result.stdout.trim()}" ${result.stderr.trim().slice(-500)}`);
  };

  try {
    const full = await build('full build (empty build cache)');
    check(0);
    const unchanged = await build('rebuild, nothing changed');
    check(0);
    const edits = [];
    for (let edit = 1; edit <= options.runs; edit++) {
      writeMain(appDirectory, edit);
      edits.push(await build(`rebuild after editing ${APP_NAME}/main.py (#${edit})`));
      check(edit);
    }
    const editMedian = median(edits.map((entry) => entry.wallMs));
    // The same edits in one long-lived builder (watch mode: what the plugins run).
    const watched = spawnSync(process.execPath, [path.join(BENCH_DIRECTORY, 'watch-rebuilds.mjs'), JSON.stringify(buildOptions), path.join(appDirectory, APP_NAME, 'main.py'), String(options.runs)], { encoding: 'utf8', env: environment });
    if (watched.status !== 0) throw new Error(`watch-mode rebuilds failed: ${watched.stderr.slice(-2000)}`);
    const watchEdits = JSON.parse(watched.stdout.trim().split('\n').at(-1));
    check(watchEdits.at(-1).edit);
    const watchMedian = median(watchEdits.map((entry) => entry.wallMs));
    const rows = [
      ['full build (pip into an empty cache)', (full.wallMs / 1000).toFixed(2), '1.00', String(full.pipRuns), String(full.reusedEntries), String(full.files)],
      ['rebuild, nothing changed', (unchanged.wallMs / 1000).toFixed(2), (unchanged.wallMs / full.wallMs).toFixed(2), String(unchanged.pipRuns), String(unchanged.reusedEntries), String(unchanged.files)],
      [`rebuild after one .py edit (median of ${edits.length})`, (editMedian / 1000).toFixed(2), (editMedian / full.wallMs).toFixed(2), edits.map((entry) => entry.pipRuns).join(','), edits.map((entry) => entry.reusedEntries).join(','), String(edits.at(-1).files)],
      [`watch mode (one long-lived builder): rebuild after one .py edit (median of ${watchEdits.length})`, (watchMedian / 1000).toFixed(2), (watchMedian / full.wallMs).toFixed(2), watchEdits.map((entry) => entry.pipRuns).join(','), watchEdits.map((entry) => entry.reusedEntries).join(','), String(edits.at(-1).files)],
    ];
    const markdown = [
      `### incremental — ${corpusName} requirements (${CORPORA[corpusName].packages.join(' ')}) + a 23-file app package, one process per build`,
      '',
      markdownTable(['build', 'wall (s)', 'vs full build', 'pip runs', 'reused entries', 'files'], rows, 'lrrrrr'),
      '',
      '- every archive above was checked with zipfile (outer and payload) and run: it printed the edit it was built from (watch mode: the last one).',
    ].join('\n');
    return [{ corpus: corpusName, full, unchanged, edits, watchEdits, rebuildOverFull: editMedian / full.wallMs, watchRebuildOverFull: watchMedian / full.wallMs, markdown }];
  } finally {
    if (!options.keep) fs.rmSync(scratch, { recursive: true, force: true });
    else log(`incremental: files kept in ${scratch}`);
  }
}
