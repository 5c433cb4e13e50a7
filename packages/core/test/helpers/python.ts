import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

/** The oldest and newest Python the archives must work with (SPEC §6). */
export const OLDEST_PYTHON = '3.8';
export const NEWEST_PYTHON = '3.13';

const found = new Map<string, string>();

/**
 * Path of `python<version>` (e.g. "3.8"): from PATH when it runs, else from pyenv's versions
 * directory (a pyenv shim fails unless that version is selected). Throws when not installed, so
 * a missing interpreter fails the test instead of skipping it.
 */
export function findPython(version: string): string {
  const cached = found.get(version);
  if (cached !== undefined) return cached;
  const candidates = [`python${version}`];
  const pyenvRoot = process.env.PYENV_ROOT ?? path.join(homedir(), '.pyenv');
  try {
    const versions = execFileSync('ls', [path.join(pyenvRoot, 'versions')], { encoding: 'utf8' }).split('\n');
    for (const installed of versions) {
      if (installed === version || installed.startsWith(`${version}.`)) candidates.push(path.join(pyenvRoot, 'versions', installed, 'bin', `python${version}`));
    }
  } catch {
    // no pyenv
  }
  for (const candidate of candidates) {
    if (candidate.includes('/') && !existsSync(candidate)) continue;
    try {
      const reported = execFileSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      if (reported === version) {
        found.set(version, candidate);
        return candidate;
      }
    } catch {
      // try the next candidate
    }
  }
  throw new Error(`python${version} is not installed (looked in PATH and ${pyenvRoot}/versions)`);
}
