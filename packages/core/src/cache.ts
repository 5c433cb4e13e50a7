/**
 * `pyz cache list | prune` for the runtime cache (`${SHIV_ROOT:-~/.shiv}`) and the build-side
 * dependency cache. Whether an extraction is in use is decided by the same Python code the
 * runtime uses (`_pyz_bootstrap.manage`, flock-based, which Node cannot take), so the CLI and
 * running archives agree on what may be deleted.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import path from 'node:path';
import { PyzError } from './errors.js';
import { buildCacheRoot } from './pip.js';

export interface RuntimeCacheEntry {
  name: string;
  path: string;
  /** The archive file name part of the directory name. */
  app: string;
  buildId: string;
  files: number;
  bytes: number;
  lastUsed: string;
  inUse: boolean;
  complete: boolean;
}

export interface RuntimeCacheListing {
  root: string;
  entries: RuntimeCacheEntry[];
}

export interface PruneResult {
  root: string;
  removed: string[];
  keptInUse: string[];
  freedBytes: number;
}

const PYTHON_DIRECTORY = path.resolve(decodeURIComponent(new URL('../python/', import.meta.url).pathname));

function runManage(args: readonly string[], python: string = process.env.PYZ_PYTHON ?? 'python3'): unknown {
  const result = spawnSync(python, ['-I', '-c', 'import sys; sys.path.insert(0, sys.argv.pop(1)); from _pyz_bootstrap import manage; sys.exit(manage.main(sys.argv[1:]))', PYTHON_DIRECTORY, ...args], {
    encoding: 'utf8',
  });
  if (result.error) {
    throw new PyzError('PYTHON_NOT_FOUND', `cannot run "${python}" to inspect the runtime cache: ${result.error.message}`, { value: python, fix: 'install python3 or set PYZ_PYTHON', cause: result.error });
  }
  if (result.status !== 0) {
    throw new PyzError('CACHE_INVALID', `runtime cache command failed: ${result.stderr.trim()}`, { value: args, fix: 'check the cache root exists and is readable' });
  }
  return JSON.parse(result.stdout);
}

/** Lists extractions in the runtime cache. */
export async function listRuntimeCache(root?: string): Promise<RuntimeCacheListing> {
  return runManage(['list', ...(root ? ['--root', root] : [])]) as RuntimeCacheListing;
}

/** Removes extractions that are not in use (and, with `build`, the build-side dependency cache). */
export async function pruneRuntimeCache(options: { root?: string; olderThanMs?: number; all?: boolean; dryRun?: boolean; build?: boolean }): Promise<PruneResult> {
  const args = ['prune'];
  if (options.root) args.push('--root', options.root);
  if (options.olderThanMs !== undefined) args.push('--older-than', String(options.olderThanMs / 1000));
  if (options.all) args.push('--all');
  if (options.dryRun) args.push('--dry-run');
  const result = runManage(args) as PruneResult;
  if (options.build) {
    const pipRoot = path.join(buildCacheRoot(), 'pip');
    for (const name of fs.existsSync(pipRoot) ? fs.readdirSync(pipRoot) : []) {
      const entry = path.join(pipRoot, name);
      const age = Date.now() - fs.statSync(entry).mtimeMs;
      if (options.olderThanMs !== undefined && age < options.olderThanMs) continue;
      result.removed.push(entry);
      if (!options.dryRun) fs.rmSync(entry, { recursive: true, force: true });
    }
  }
  return result;
}
