// The Vite/Rollup plugin's contract: options validated at construction, errors through
// this.error with the PyzError code and fix, one start and one summary line in the bundler's
// log, the manifest packed when enabled, only the chosen Vite environment builds the archive.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rollup, type RollupLog } from 'rollup';
import { PyzError } from '@pyz/core';
import { pyz } from '../src/index.js';
import { rollupOptions } from '../../../examples/fullstack/bundlers/rollup.mjs';
import { copyExample, exampleOptions, flaskSitePackages, readArchive, removeTemporaryDirectories } from './helpers/fixture.js';

let root: string;
let sitePackages: string;
beforeAll(() => {
  sitePackages = flaskSitePackages();
  root = copyExample();
});
afterAll(removeTemporaryDirectories);

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an exception');
}

describe('options are validated when the plugin is created', () => {
  test('entry point and console script together', () => {
    const error = thrownBy(() => pyz({ ...exampleOptions(root, sitePackages), consoleScript: 'flask' }));
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe('ENTRY_POINT_CONFLICT');
  });
  test('an entry point that is a file path', () => {
    expect((thrownBy(() => pyz({ ...exampleOptions(root, sitePackages), entryPoint: 'myapp/serve.py' })) as PyzError).code).toBe('ENTRY_POINT_INVALID');
  });
  test('a missing or escaping assetsPath', () => {
    const missing = thrownBy(() => pyz({ ...exampleOptions(root, sitePackages), assetsPath: '' })) as PyzError;
    expect(missing.code).toBe('INVALID_OPTION');
    expect(missing.message).toContain("assetsPath: 'myapp/static'");
    expect((thrownBy(() => pyz({ ...exampleOptions(root, sitePackages), assetsPath: '../outside' })) as PyzError).code).toBe('INVALID_OPTION');
  });
  test('a refused pip argument', () => {
    expect((thrownBy(() => pyz({ ...exampleOptions(root, sitePackages), pipArgs: ['--user', '.'] })) as PyzError).code).toBe('PIP_ARGUMENT_REFUSED');
  });
});

const viteVersions = [
  ['vite 8', async () => (await import('vite')).build],
  ['vite 7', async () => (await import('vite7')).build],
] as const;

function capturingLogger() {
  const lines: string[] = [];
  const logger = {
    info: (message: string) => {
      lines.push(message);
    },
    warn: () => {},
    warnOnce: () => {},
    error: () => {},
    clearScreen: () => {},
    hasErrorLogged: () => false,
    hasWarned: false,
  };
  return { lines, logger };
}

const SUMMARY = /^pyz: dist\/(app|ssr-env)\.pyz \d+\.\d+ (KiB|MiB), [\d,]+ files, \d+\.\d\d s, backend \w+$/;

describe.each(viteVersions)('%s', (name, loadBuild) => {
  const output = `dist/${name.replace(' ', '')}.pyz`;

  test('one start line and one summary line; the manifest is packed when enabled', async () => {
    const build = (await loadBuild()) as (config: object) => Promise<unknown>;
    const { lines, logger } = capturingLogger();
    await build({
      configFile: false,
      customLogger: logger,
      root,
      build: { outDir: 'dist/web', emptyOutDir: true, manifest: true },
      plugins: [pyz(exampleOptions(root, sitePackages, output))],
    });
    const ours = lines.filter((line) => line.startsWith('pyz:'));
    expect(ours).toHaveLength(2);
    expect(ours[0]).toBe(`pyz: packing dist/web into ${output} at myapp/static`);
    expect(ours[1]).toMatch(new RegExp(SUMMARY.source.replace('(app|ssr-env)', name.replace(' ', ''))));
    const names = readArchive(path.join(root, output)).payload.map((entry) => entry.name);
    expect(names).toContain('myapp/static/.vite/manifest.json');
  });

  test('a failing build reports the PyzError code and fix through this.error and writes nothing', async () => {
    const build = (await loadBuild()) as (config: object) => Promise<unknown>;
    const failing = { ...exampleOptions(root, sitePackages, `dist/failing-${name.replace(' ', '')}.pyz`), pipArgs: ['--no-deps', './no-such-project'] };
    const { logger } = capturingLogger();
    const attempt = build({ configFile: false, customLogger: logger, root, build: { outDir: 'dist/web-failing', emptyOutDir: true }, plugins: [pyz(failing)] });
    await expect(attempt).rejects.toThrow(/PIP_FAILED: .*no-such-project[\s\S]*fix: /);
    expect(existsSync(path.join(root, failing.output))).toBe(false);
  });

  test('with several environments only the chosen one builds the archive', async () => {
    const { createBuilder } = name === 'vite 8' ? await import('vite') : await import('vite7');
    const { lines, logger } = capturingLogger();
    const options = { ...exampleOptions(root, sitePackages, 'dist/ssr-env.pyz'), environment: 'ssr' };
    const builder = await createBuilder({
      configFile: false,
      customLogger: logger,
      root,
      environments: {
        client: { build: { outDir: 'dist/env-client', emptyOutDir: true } },
        ssr: { build: { outDir: 'dist/env-ssr', emptyOutDir: true, ssr: true, rollupOptions: { input: path.join(root, 'src/main.ts') } } },
      },
      plugins: [pyz(options)],
    });
    await builder.buildApp();
    const starts = lines.filter((line) => line.startsWith('pyz: packing'));
    expect(starts).toEqual(['pyz: packing dist/env-ssr into dist/ssr-env.pyz at myapp/static']);
    const names = readArchive(path.join(root, 'dist/ssr-env.pyz')).payload.map((entry) => entry.name).filter((entry) => entry.startsWith('myapp/static/'));
    // the SSR build of src/main.ts (main.js or main.mjs), never the client's index.html or assets
    expect(names.filter((name) => /^myapp\/static\/main\.m?js$/.test(name))).toHaveLength(1);
    expect(names.filter((name) => name.includes('index') || name.includes('assets/'))).toEqual([]);
  });
});

test('rollup -c: start and summary lines through this.info, errors through this.error', async () => {
  const logs: RollupLog[] = [];
  const config = rollupOptions([pyz(exampleOptions(root, sitePackages, 'dist/rollup.pyz'))], { root });
  const bundle = await rollup({ ...config, onLog: (level, log) => level === 'info' && logs.push(log) });
  await bundle.write(config.output);
  await bundle.close();
  const ours = logs.filter((log) => log.plugin === 'pyz').map((log) => log.message);
  expect(ours).toHaveLength(2);
  expect(ours[0]).toMatch(/^\[plugin pyz\] packing dist\/web into dist\/rollup\.pyz at myapp\/static$/);
  expect(ours[1]).toMatch(/^\[plugin pyz\] dist\/rollup\.pyz \d+\.\d+ (KiB|MiB), [\d,]+ files, \d+\.\d\d s, backend \w+$/);

  const failing = { ...exampleOptions(root, sitePackages, 'dist/rollup-failing.pyz'), pipArgs: ['--no-deps', './no-such-project'] };
  const failingConfig = rollupOptions([pyz(failing)], { root });
  const failingBundle = await rollup({ ...failingConfig, onLog: () => {} });
  await expect(failingBundle.write(failingConfig.output)).rejects.toMatchObject({ plugin: 'pyz', message: expect.stringMatching(/PIP_FAILED/) });
  await failingBundle.close();
  expect(existsSync(path.join(root, failing.output))).toBe(false);
});

test('a .pyz written inside the output directory never packs itself, also on the next build', async () => {
  const options = exampleOptions(root, sitePackages, 'dist/web/inside.pyz');
  for (let build = 0; build < 2; build += 1) {
    const config = rollupOptions([pyz(options)], { root });
    const bundle = await rollup({ ...config, onLog: () => {} });
    await bundle.write(config.output);
    await bundle.close();
  }
  const names = readArchive(path.join(root, options.output)).payload.map((entry) => entry.name);
  expect(names.filter((name) => name.includes('.pyz'))).toEqual([]);
  expect(names).toContain('myapp/static/index.html');
  expect(names).toContain('myapp/static/robots.txt');
});
