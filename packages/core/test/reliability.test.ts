/**
 * CI coverage of the reliability issue: runs `scripts/reliability.mjs --scale small` (concurrent
 * starts, killed runs and builds, damaged caches, forced re-extraction, the bad-input catalogue,
 * hostile archives, permissions, ~1,000 fuzz cases) against the built core and requires every
 * scenario to pass. The full-scale figures come from `node scripts/reliability.mjs --scale full`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, expect, it } from 'vitest';

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const harness = path.join(repository, 'scripts', 'reliability.mjs');

function sourcesOf(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourcesOf(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

beforeAll(() => {
  // The harness drives the built CLI and library: compile the current sources first, so the
  // figures are about this tree and not a stale dist/.
  const build = spawnSync(process.execPath, [path.join(repository, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', path.join(repository, 'packages', 'core')], {
    cwd: repository,
    encoding: 'utf8',
  });
  // Type errors are the type-check's business; what matters here is that dist/ was emitted from
  // the current sources (tsc -b emits despite type errors): every source older than its output.
  const stale = sourcesOf(path.join(repository, 'packages', 'core', 'src')).filter((source) => {
    const output = source.replace(`${path.sep}src${path.sep}`, `${path.sep}dist${path.sep}`).replace(/\.ts$/, '.js');
    return !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs;
  });
  if (stale.length > 0) throw new Error(`dist/ is stale for ${stale.join(', ')} after tsc -b packages/core:\n${build.stdout}${build.stderr}`);
});

it('passes every reliability scenario at --scale small', () => {
  const result = spawnSync(process.execPath, [harness, '--scale', 'small'], {
    cwd: repository,
    encoding: 'utf8',
    env: { ...process.env, PIP_RETRIES: '0' },
    timeout: 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  // The table (stdout) names each failing scenario and how to reproduce it.
  const report = `${result.stdout}\n${result.stderr.split('\n').filter((line) => /^(FAIL|\s{7})/.test(line)).join('\n')}`;
  expect(result.stdout, report).toMatch(/\| scenario \| rounds \| passed \| failed \| notes \|/);
  // At least the nine scenario groups produced rows (a harness that ran nothing must not pass).
  expect(result.stdout.split('\n').filter((line) => /^\| (?!scenario|---)/.test(line)).length, report).toBeGreaterThanOrEqual(9);
  expect(result.status, report).toBe(0);
}, 900_000);
