/**
 * The things the build benchmarks time: pyz (one per backend × level, each in its own Node
 * process) and the anchors (Python zipfile level 6, `python -m zipapp -c`, Info-ZIP `zip -r -6`).
 * Each contender knows how to produce an archive from a tree and how to check that archive.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ENTRY_POINT } from './corpus.mjs';
import { BENCH_DIRECTORY, coreEntry, PYTHON, PYTHON_HELPERS, pyzCli, childEnvironment, runMeasured, validateWithPython } from './lib.mjs';

export const ANCHORS = ['zipfile', 'zipapp', 'zip'];
export const ALL_BACKENDS = ['native', 'wasm', 'zlib', 'js'];
/** The row every ratio is taken against. */
export const ANCHOR_ID = 'python zipfile -6';
const PAYLOAD_NAME = '_pyz_site_packages.zip';

let core = null;
/** The built core (packages/core/dist); `npm run build` makes it. */
export async function loadCore() {
  if (core) return core;
  if (!fs.existsSync(coreEntry())) throw new Error(`${coreEntry()} is missing: run "npm run build" first`);
  core = await import(pathToFileURL(coreEntry()).href);
  return core;
}

/** Which backends load here: { name: null | 'reason it does not' }. */
export async function probeBackends(names) {
  const { loadBackend } = await loadCore();
  const status = {};
  for (const name of names) {
    try {
      const backend = await loadBackend(name);
      // One tiny batch: a backend that loads but cannot compress is not available either.
      await backend.compressBatch([Buffer.from('pyz bench probe '.repeat(64))], 6);
      await backend.close();
      status[name] = null;
    } catch (error) {
      status[name] = (error?.message ?? String(error)).split('\n')[0];
    }
  }
  return status;
}

/** Effective level of a backend: the zlib-based ones cap at 9. */
export function effectiveLevel(backend, level) {
  return backend === 'zlib' || backend === 'js' ? Math.min(level, 9) : level;
}

function pyzCount(file) {
  const result = spawnSync(process.execPath, [pyzCli(), 'info', '-j', '--list', file], { encoding: 'utf8', env: childEnvironment(), maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`pyz info --list ${file} failed (exit ${result.status}): ${(result.stderr || result.stdout).trim().slice(-1500)}`);
  const info = JSON.parse(result.stdout);
  if (!Array.isArray(info.files)) throw new Error(`pyz info -j --list ${file} printed no "files" array`);
  return info.files.length;
}

/**
 * A pyz contender. `extraSites` are added after the corpus (the runtime suite's entry module).
 * Builds are reproducible (fixed timestamps) so a contender's sha256 must not change between runs.
 */
export function pyzContender({ backend, level, corpus, outputDirectory, entryPoint = null, extraSites = [], checkInfo = true }) {
  const id = `pyz ${backend} -${level}`;
  const output = path.join(outputDirectory, `pyz-${backend}-${level}.pyz`);
  const expectedFiles = corpus.files + extraSites.reduce((sum, site) => sum + site.files, 0);
  return {
    id,
    kind: 'pyz',
    backend,
    level,
    output,
    async run() {
      fs.rmSync(output, { force: true });
      // A full build every time: no reuse of the previous archive (incremental rebuilds have their own suite).
      const options = { sitePackages: [corpus.site, ...extraSites.map((site) => site.site)], output, backend, level, reproducible: true, entryPoint, incremental: false, config: false };
      const measured = await runMeasured(process.execPath, [path.join(BENCH_DIRECTORY, 'build-one.mjs'), JSON.stringify(options)], { env: childEnvironment({ SOURCE_DATE_EPOCH: undefined }) });
      const result = JSON.parse(measured.stdout.trim().split('\n').at(-1));
      return { ...measured, buildResult: result };
    },
    validate(run) {
      const checked = validateWithPython(output, PAYLOAD_NAME);
      const problems = [];
      if (!checked.nested) problems.push('no nested payload');
      else if (checked.nested.files !== expectedFiles) problems.push(`payload has ${checked.nested.files} files, corpus has ${expectedFiles}`);
      if (checked.nested && checked.nested.bytes !== corpus.bytes + extraSites.reduce((sum, site) => sum + site.bytes, 0)) problems.push(`payload holds ${checked.nested.bytes} bytes, corpus ${corpus.bytes}`);
      if (run?.buildResult && run.buildResult.files !== expectedFiles) problems.push(`BuildResult.files ${run.buildResult.files} ≠ ${expectedFiles}`);
      if (run?.buildResult && backend !== 'auto' && run.buildResult.backend !== backend) problems.push(`asked for backend ${backend}, BuildResult.backend is ${run.buildResult.backend}`);
      if (checkInfo) {
        const listed = pyzCount(output);
        if (listed !== expectedFiles) problems.push(`pyz info --list shows ${listed} files, corpus has ${expectedFiles}`);
      }
      if (problems.length) throw new Error(problems.join('; '));
      return checked;
    },
  };
}

/** Python's zipfile, level 6, one thread, same tree — the anchor of every ratio. */
export function zipfileContender({ corpus, outputDirectory, level = 6 }) {
  const output = path.join(outputDirectory, `zipfile-${level}.zip`);
  return {
    id: level === 6 ? ANCHOR_ID : `python zipfile -${level}`,
    kind: 'anchor',
    output,
    async run() {
      fs.rmSync(output, { force: true });
      return runMeasured(PYTHON, [path.join(PYTHON_HELPERS, 'zip_tree.py'), corpus.site, output, String(level)]);
    },
    validate() {
      const checked = validateWithPython(output);
      if (checked.outer.files !== corpus.files) throw new Error(`archive has ${checked.outer.files} files, corpus has ${corpus.files}`);
      return checked;
    },
  };
}

/** `python -m zipapp SOURCE -c`: the standard library's own packer (writes __main__.py too). */
export function zipappContender({ corpus, outputDirectory }) {
  const output = path.join(outputDirectory, 'zipapp.pyz');
  return {
    id: 'python -m zipapp -c',
    kind: 'anchor',
    output,
    async run() {
      fs.rmSync(output, { force: true });
      return runMeasured(PYTHON, ['-m', 'zipapp', corpus.site, '-o', output, '-c', '-m', ENTRY_POINT]);
    },
    validate() {
      const checked = validateWithPython(output);
      // zipapp adds __main__.py.
      if (checked.outer.files !== corpus.files + 1) throw new Error(`archive has ${checked.outer.files} files, expected ${corpus.files} + __main__.py`);
      return checked;
    },
  };
}

/** Info-ZIP `zip -r -6 -q`, run inside the tree. */
export function infoZipContender({ corpus, outputDirectory }) {
  const output = path.join(outputDirectory, 'infozip.zip');
  return {
    id: 'zip -r -6',
    kind: 'anchor',
    output,
    async run() {
      // zip appends to an existing archive: always start from nothing.
      fs.rmSync(output, { force: true });
      return runMeasured('zip', ['-r', '-6', '-q', output, '.'], { cwd: corpus.site });
    },
    validate() {
      const checked = validateWithPython(output);
      if (checked.outer.files !== corpus.files) throw new Error(`archive has ${checked.outer.files} files, corpus has ${corpus.files}`);
      return checked;
    },
  };
}

export function anchorContenders(names, context) {
  const makers = { zipfile: zipfileContender, zipapp: zipappContender, zip: infoZipContender };
  return names.map((name) => {
    if (!makers[name]) throw new Error(`unknown anchor "${name}"; known: ${ANCHORS.join(', ')}`);
    return makers[name](context);
  });
}
