/**
 * Compiles the TypeScript packages once before the tests, so tests that run the CLI
 * (packages/core/dist/bin.js) or the plugins' dist never see a stale build.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export default function setup() {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const result = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b', 'packages/core', 'packages/vite-plugin', 'packages/esbuild-plugin'], { cwd: root, encoding: 'utf8' });
  if (result.status !== 0) {
    // tsc -b still emits JavaScript on type errors; show them, the tests decide the rest.
    process.stderr.write(`tsc -b reported errors:\n${result.stdout}${result.stderr}\n`);
  }
}
