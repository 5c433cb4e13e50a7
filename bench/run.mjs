#!/usr/bin/env node
/**
 * pyz benchmarks. `npm run bench -- [options]` runs `node bench/run.mjs [options]`.
 *
 *   --suite build,sweep,runtime,incremental   suites to run (default: build)
 *   --corpus medium                           corpora (small, medium, large, many; see corpus.mjs)
 *   --backends native,wasm,zlib,js            pyz backends (unavailable ones are reported, skipped)
 *   --levels 6                                deflate levels (sweep default: 1,3,6,9,12)
 *   --runs 5                                  timed runs per contender, after one validated warm-up
 *   --anchors zipfile,zipapp,zip              build anchors (sweep default: zipfile)
 *   --warm-runs 20 --cold-runs 5              runtime suite repetitions
 *   --runtime-backend auto                    backend of the archives the runtime/incremental suites build
 *   --shiv PATH                               a shiv executable to compare with in the runtime suite
 *   --output-dir DIR                          scratch space (default bench/.corpus/scratch)
 *   --keep                                    keep the archives
 *   --skip-info-check                         do not cross-check file counts with `pyz info --list`
 *   --no-snapshot                             use packages/core/dist in place instead of a frozen copy
 *
 * Prints markdown tables on stdout (progress on stderr) and writes
 * bench/results/<suite>-<date>.json with the machine, the exact command and every number.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { CORPUS_ROOT } from './corpus.mjs';
import { ALL_BACKENDS, ANCHORS } from './contenders.mjs';
import { commandLine, log, machineInfo, parseArguments, writeResult } from './lib.mjs';
import { runBuildSuite } from './suites/build.mjs';
import { runIncrementalSuite } from './suites/incremental.mjs';
import { runRuntimeSuite } from './suites/runtime.mjs';
import { runSweepSuite } from './suites/sweep.mjs';
import { snapshotCore } from './snapshot.mjs';

const SUITES = {
  build: { run: runBuildSuite, defaults: { levels: ['6'], anchors: ANCHORS, corpus: ['medium'] } },
  sweep: { run: runSweepSuite, defaults: { levels: ['1', '3', '6', '9', '12'], anchors: ['zipfile'], runs: 3, corpus: ['medium'] } },
  runtime: { run: runRuntimeSuite, defaults: { corpus: ['small', 'medium', 'many'] } },
  incremental: { run: runIncrementalSuite, defaults: { runs: 3, corpus: ['medium'] } },
};

const DEFAULTS = {
  suite: ['build'],
  corpus: [],
  backends: ALL_BACKENDS,
  levels: [],
  runs: 5,
  anchors: [],
  warmRuns: 20,
  coldRuns: 5,
  runtimeBackend: 'auto',
  shiv: '',
  outputDir: path.join(CORPUS_ROOT, 'scratch'),
  keep: false,
  skipInfoCheck: false,
  noSnapshot: false,
};

const argv = process.argv.slice(2);
const given = parseArguments(argv, DEFAULTS);
const explicit = new Set(argv.filter((argument) => argument.startsWith('--')).map((argument) => argument.slice(2).split('=')[0].replace(/-([a-z])/g, (_, letter) => letter.toUpperCase())));
const machine = machineInfo();
fs.mkdirSync(given.outputDir, { recursive: true });
// Freeze the code under test (see snapshot.mjs); children inherit the variable.
const core = given.noSnapshot ? { root: null, fingerprint: null, gitHead: null } : snapshotCore();
if (core.root) {
  process.env.PYZ_BENCH_CORE_ROOT = core.root;
  log(`bench: measuring a frozen copy of the core (${core.files} files, fingerprint ${core.fingerprint}, HEAD ${core.gitHead?.slice(0, 10)}, working tree as built)`);
}

let failed = false;
for (const suite of given.suite) {
  const definition = SUITES[suite];
  if (!definition) throw new Error(`unknown suite "${suite}"; known: ${Object.keys(SUITES).join(', ')}`);
  // A suite's own defaults apply to every option the command line did not set.
  const options = { ...given };
  for (const [key, value] of Object.entries(definition.defaults)) if (!explicit.has(key)) options[key] = value;
  if (options.runs < 1) throw new Error('--runs must be at least 1');
  const started = new Date();
  log(`bench: suite ${suite} — ${JSON.stringify({ corpus: options.corpus, backends: options.backends, levels: options.levels, runs: options.runs, anchors: options.anchors })}`);
  const sections = await definition.run(options);
  const markdown = sections.map((section) => section.markdown).join('\n\n');
  const header = `<!-- ${commandLine()} · ${started.toISOString()} · ${machine.nproc} × ${machine.cpuModel}, node ${machine.node}, ${machine.python} -->`;
  console.log(`${header}\n${markdown}\n`);
  const file = writeResult(suite, {
    suite,
    date: started.toISOString(),
    durationSeconds: Math.round((Date.now() - started.getTime()) / 1000),
    command: commandLine(),
    npmCommand: `npm run bench -- ${argv.join(' ')}`.trim(),
    machine,
    core: { fingerprint: core.fingerprint, gitHead: core.gitHead, note: 'built packages/core/dist of the working tree at that HEAD (may include uncommitted changes)' },
    options: { ...options, shivInfo: undefined },
    sections: sections.map(({ markdown: sectionMarkdown, ...rest }) => ({ ...rest, markdown: sectionMarkdown })),
  });
  log(`bench: wrote ${path.relative(process.cwd(), file)}`);
  if (sections.some((section) => section.rows?.some((row) => row.error))) failed = true;
}
if (failed) {
  log('bench: some contenders produced invalid output or failed (see the tables)');
  process.exitCode = 1;
}
