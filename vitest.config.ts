import { execFileSync } from 'node:child_process';
import { defineConfig } from 'vitest/config';

/**
 * pyenv installs python3.8 … python3.13 side by side but only the global version's shims
 * answer; listing every installed 3.x version in PYENV_VERSION makes `python3.8` … `python3.13`
 * resolve in tests while `python3` stays the global default.
 */
function pyenvVersions(): string | undefined {
  if (process.env.PYENV_VERSION) return process.env.PYENV_VERSION;
  try {
    const global = execFileSync('pyenv', ['version-name'], { encoding: 'utf8' }).trim();
    const all = execFileSync('pyenv', ['versions', '--bare'], { encoding: 'utf8' }).split('\n').map((line) => line.trim());
    const wanted = all.filter((version) => /^3\.(8|9|1[0-3])\.\d+$/.test(version) && version !== global);
    return [global, ...wanted].join(':');
  } catch {
    return undefined;
  }
}

const pyenvVersion = pyenvVersions();
if (pyenvVersion) process.env.PYENV_VERSION = pyenvVersion;

// One test-folder convention for every package: packages/*/test/**/*.test.ts.
export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
    passWithNoTests: false,
    pool: 'forks',
    reporters: ['default', './scripts/summary-reporter.mjs'],
    globalSetup: ['./scripts/vitest-global-setup.mjs'],
    env: { PIP_RETRIES: '0', ...(pyenvVersion ? { PYENV_VERSION: pyenvVersion } : {}) },
  },
});
