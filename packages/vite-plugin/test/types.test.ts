// The plugin's types against the installed Vite 8, Vite 7 and Rollup 4 declarations
// (plugin-types.ts, compiled by tsc; its @ts-expect-error lines make the check two-sided).
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const here = path.dirname(fileURLToPath(import.meta.url));

test('pyz() is assignable to Vite 8, Vite 7 and Rollup 4 plugin types', () => {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(here, 'tsconfig.types.json')], { encoding: 'utf8' });
  expect(result.stdout + result.stderr).toBe('');
  expect(result.status).toBe(0);
});
