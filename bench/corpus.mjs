#!/usr/bin/env node
/**
 * Prepares the benchmark corpora in bench/.corpus/<name>/site (gitignored):
 *
 *   small   flask                              (~2 MB, ~190 files)
 *   medium  django gunicorn psycopg numpy      (~83 MB, ~4,900 files)
 *   large   boto3 pandas scipy                 (~234 MB, ~6,200 files)
 *   many    70,000 tiny synthetic .py files    (the start-up-vs-file-count case)
 *
 * Real corpora come from `python3 -m pip install --target … --no-compile` (PIP_RETRIES=0, so the
 * unreachable default index fails fast and the local index answers). Top-level versions are
 * pinned so every machine measures the same bytes. A corpus is ready when its corpus.json exists
 * and names the same packages: a rerun is instant. `--force` rebuilds.
 *
 * Also writes bench/.corpus/entry/site/pyz_bench_entry.py, the trivial entry point the runtime
 * suite adds next to a corpus (`--site-packages <corpus> --site-packages <entry>`).
 *
 * Usage: node bench/corpus.mjs [small,medium,large,many] [--force]
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BENCH_DIRECTORY, PYTHON, childEnvironment, log } from './lib.mjs';

export const CORPUS_ROOT = path.join(BENCH_DIRECTORY, '.corpus');

/** What each corpus is made of. Bump `revision` when the recipe changes so caches rebuild. */
export const CORPORA = {
  small: { revision: 1, packages: ['flask==3.1.*'] },
  medium: { revision: 1, packages: ['django==5.2.17', 'gunicorn==26.2.0', 'psycopg==3.3.6', 'numpy==2.4.6'] },
  large: { revision: 1, packages: ['boto3==1.43.107', 'pandas==3.0.6', 'scipy==1.17.1'] },
  many: { revision: 1, synthetic: { files: 70_000, packages: 70, bytesPerFile: 64 } },
};

export const ENTRY_MODULE = 'pyz_bench_entry';
export const ENTRY_POINT = `${ENTRY_MODULE}:main`;

/** Counts regular files and their bytes, skipping what pyz never packs (.pyc, __pycache__). */
export function measureTree(root) {
  let files = 0;
  let bytes = 0;
  const stack = [root];
  while (stack.length) {
    const directory = stack.pop();
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__pycache__') stack.push(full);
      } else if (entry.isFile() && !entry.name.endsWith('.pyc')) {
        files++;
        bytes += fs.statSync(full).size;
      }
    }
  }
  return { files, bytes };
}

function recipeOf(name) {
  return JSON.stringify(CORPORA[name]);
}

function readManifest(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(CORPUS_ROOT, name, 'corpus.json'), 'utf8'));
  } catch {
    return null;
  }
}

function pipInstall(packages, target) {
  const args = ['-m', 'pip', 'install', '--quiet', '--no-input', '--no-compile', '--disable-pip-version-check', '--target', target, ...packages];
  log(`corpus: ${PYTHON} ${args.join(' ')}`);
  const result = spawnSync(PYTHON, args, { env: childEnvironment({ PYTHONDONTWRITEBYTECODE: '1' }), encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`pip install of ${packages.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
}

/** Deterministic tiny modules: `many_pkgNN/mod_NNNNN.py`, each a few dozen bytes, plus __init__.py. */
function writeSynthetic(target, { files, packages, bytesPerFile }) {
  const perPackage = Math.ceil(files / packages);
  let written = 0;
  for (let packageIndex = 0; packageIndex < packages && written < files; packageIndex++) {
    const packageName = `many_pkg${String(packageIndex).padStart(2, '0')}`;
    const directory = path.join(target, packageName);
    fs.mkdirSync(directory, { recursive: true });
    fs.writeFileSync(path.join(directory, '__init__.py'), `"""Synthetic package ${packageIndex} of the many-files corpus."""\n`);
    written++;
    for (let moduleIndex = 0; moduleIndex < perPackage - 1 && written < files; moduleIndex++, written++) {
      const body = `VALUE = ${written}\nNAME = "${packageName}.mod_${moduleIndex}"\n`;
      fs.writeFileSync(path.join(directory, `mod_${String(moduleIndex).padStart(5, '0')}.py`), body.padEnd(bytesPerFile - 1, '#') + '\n');
    }
  }
}

/** The trivial entry point: importing it costs nothing, main() returns 0. */
export function prepareEntry() {
  const site = path.join(CORPUS_ROOT, 'entry', 'site');
  const file = path.join(site, `${ENTRY_MODULE}.py`);
  const body = '"""Trivial entry point for the pyz runtime benchmark."""\n\n\ndef main():\n    return 0\n';
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== body) {
    fs.mkdirSync(site, { recursive: true });
    fs.writeFileSync(file, body);
  }
  return site;
}

/**
 * Returns { name, site, files, bytes, packages } for a ready corpus, building it first when
 * needed. Files and bytes exclude .pyc / __pycache__ (pyz never packs them).
 */
export function prepareCorpus(name, { force = false } = {}) {
  const recipe = CORPORA[name];
  if (!recipe) throw new Error(`unknown corpus "${name}"; known: ${Object.keys(CORPORA).join(', ')}`);
  const directory = path.join(CORPUS_ROOT, name);
  const site = path.join(directory, 'site');
  const manifest = readManifest(name);
  if (!force && manifest && manifest.recipe === recipeOf(name) && fs.existsSync(site)) return { ...manifest, site };

  const staging = path.join(directory, `site.tmp-${process.pid}`);
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  const started = Date.now();
  if (recipe.synthetic) writeSynthetic(staging, recipe.synthetic);
  else pipInstall(recipe.packages, staging);
  fs.rmSync(site, { recursive: true, force: true });
  fs.renameSync(staging, site);

  const installed = recipe.synthetic
    ? []
    : fs
        .readdirSync(site)
        .filter((entry) => entry.endsWith('.dist-info'))
        .map((entry) => entry.replace(/\.dist-info$/, ''))
        .sort();
  const { files, bytes } = measureTree(site);
  const result = { name, recipe: recipeOf(name), packages: recipe.packages ?? null, installed, files, bytes, preparedAt: new Date().toISOString() };
  fs.writeFileSync(path.join(directory, 'corpus.json'), `${JSON.stringify(result, null, 2)}\n`);
  log(`corpus: ${name} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${files} files, ${(bytes / 1e6).toFixed(1)} MB`);
  return { ...result, site };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const force = process.argv.includes('--force');
  const names = process.argv.slice(2).filter((argument) => !argument.startsWith('--')).flatMap((argument) => argument.split(','));
  prepareEntry();
  for (const name of names.length ? names : Object.keys(CORPORA)) {
    const corpus = prepareCorpus(name, { force });
    console.log(`${name.padEnd(7)} ${String(corpus.files).padStart(6)} files ${(corpus.bytes / 1e6).toFixed(1).padStart(7)} MB  ${corpus.site}`);
  }
}
