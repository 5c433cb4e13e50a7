/**
 * Freezes the code under test: copies the built core (packages/core/dist, python/, package.json)
 * and the native artefacts (the .node addon, the .wasm module) into
 * bench/.corpus/core-snapshot/, at the same relative paths, so the core finds its addon exactly as
 * in the repository and bare imports (fflate, smol-toml) still resolve through the repository's
 * node_modules. A benchmark then measures one version of the code from start to end, even when
 * someone rebuilds dist/ meanwhile. The fingerprint (sha256 over every copied file) goes into
 * the results.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import path from 'node:path';
import { CORPUS_ROOT } from './corpus.mjs';
import { REPOSITORY_ROOT } from './lib.mjs';

function listFiles(root) {
  const found = [];
  const walk = (directory) => {
    for (const entry of fs.readdirSync(directory, { withFileTypes: true })) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== '__pycache__') walk(full);
      } else if (entry.isFile()) found.push(full);
    }
  };
  if (fs.existsSync(root)) walk(root);
  return found;
}

export function snapshotCore() {
  const coreDirectory = path.join(REPOSITORY_ROOT, 'packages/core');
  if (!fs.existsSync(path.join(coreDirectory, 'dist/index.js'))) throw new Error('packages/core/dist is missing: run "npm run build" first');
  const sources = [
    ...listFiles(path.join(coreDirectory, 'dist')),
    ...listFiles(path.join(coreDirectory, 'python')),
    path.join(coreDirectory, 'package.json'),
    ...fs.readdirSync(path.join(REPOSITORY_ROOT, 'native')).filter((name) => name.endsWith('.node')).map((name) => path.join(REPOSITORY_ROOT, 'native', name)),
    ...listFiles(path.join(REPOSITORY_ROOT, 'native/build')).filter((file) => file.endsWith('.wasm')),
  ].sort();
  const root = path.join(CORPUS_ROOT, 'core-snapshot');
  const staging = `${root}.tmp-${process.pid}`;
  fs.rmSync(staging, { recursive: true, force: true });
  const fingerprint = createHash('sha256');
  for (const source of sources) {
    const relative = path.relative(REPOSITORY_ROOT, source);
    const target = path.join(staging, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const bytes = fs.readFileSync(source);
    fs.writeFileSync(target, bytes, { mode: fs.statSync(source).mode & 0o777 });
    fingerprint.update(relative.split(path.sep).join('/')).update('\0').update(createHash('sha256').update(bytes).digest());
  }
  fs.rmSync(root, { recursive: true, force: true });
  fs.renameSync(staging, root);
  const head = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: REPOSITORY_ROOT, encoding: 'utf8' });
  return { root, files: sources.length, fingerprint: fingerprint.digest('hex').slice(0, 16), gitHead: head.status === 0 ? head.stdout.trim() : null };
}
