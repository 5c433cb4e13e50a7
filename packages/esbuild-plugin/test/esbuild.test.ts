// The esbuild plugin: write: false hands the .pyz back in outputFiles (nothing on disk), a
// failed bundle writes no archive, core errors fail the build, bad options fail at creation,
// and context().watch() rebuilds the archive on frontend and Python edits.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as esbuild from 'esbuild';
import { PyzError } from '@pyz/core';
import { pyz } from '../src/index.js';
import { esbuildOptions } from '../../../examples/fullstack/bundlers/esbuild.mjs';
import {
  copyExample,
  editFile,
  exampleOptions,
  flaskSitePackages,
  readArchive,
  removeTemporaryDirectories,
  runAppCheck,
  sha256,
  temporaryDirectory,
  waitFor,
} from '../../vite-plugin/test/helpers/fixture.js';

let sitePackages: string;
beforeAll(() => {
  sitePackages = flaskSitePackages();
});
afterAll(removeTemporaryDirectories);

describe('esbuild build()', () => {
  let root: string;
  beforeAll(() => {
    root = copyExample();
  });

  test('write: false returns the .pyz as an output file and writes nothing', async () => {
    const options = exampleOptions(root, sitePackages, 'dist/memory.pyz');
    const result = await esbuild.build(esbuildOptions([pyz(options)], { root, write: false }));
    const archivePath = path.join(root, options.output);
    expect(existsSync(path.join(root, 'dist'))).toBe(false);
    const archive = result.outputFiles.find((file) => file.path === archivePath)!;
    expect(archive.text.startsWith('#!/usr/bin/env python3\n')).toBe(true);
    expect(archive.hash).toMatch(/^[0-9a-f]{64}$/);
    const names = result.outputFiles.map((file) => path.relative(root, file.path)).sort();
    expect(names.filter((name) => !name.includes('assets/'))).toEqual(['dist/memory.pyz', 'dist/web/favicon.svg', 'dist/web/index.html', 'dist/web/robots.txt']);
  });

  test('a failed bundle writes no archive; a core error fails the build with its code', async () => {
    const broken = copyExample();
    editFile(path.join(broken, 'src/main.ts'), 'void showGreeting();', 'void showGreeting(;');
    const options = exampleOptions(broken, sitePackages);
    await expect(esbuild.build(esbuildOptions([pyz(options)], { root: broken, logLevel: 'silent' }))).rejects.toThrow(/Unexpected ";"/);
    expect(existsSync(path.join(broken, options.output))).toBe(false);

    const failing = { ...exampleOptions(root, sitePackages, 'dist/failing.pyz'), pipArgs: ['--no-deps', './no-such-project'] };
    const failure = await esbuild.build(esbuildOptions([pyz(failing)], { root, logLevel: 'silent' })).catch((error: esbuild.BuildFailure) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as esbuild.BuildFailure).errors.map((error) => error.text).join('\n')).toMatch(/^PIP_FAILED: [\s\S]*no-such-project[\s\S]*fix: /);
    expect(existsSync(path.join(root, failing.output))).toBe(false);
  });

  test('bad options throw when the plugin is created', () => {
    expect(() => pyz({ ...exampleOptions(root, sitePackages), consoleScript: 'flask' })).toThrow(PyzError);
    expect(() => pyz({ ...exampleOptions(root, sitePackages), assetsPath: '' })).toThrow(/assetsPath/);
  });

  test('the start and summary lines go to the log option; one plugin object serves two builds', async () => {
    const lines: string[] = [];
    const options = { ...exampleOptions(root, sitePackages, 'dist/logged.pyz'), log: { info: (line: string) => lines.push(line), warn: () => {} } };
    const plugin = pyz(options);
    await esbuild.build(esbuildOptions([plugin], { root }));
    expect(lines).toHaveLength(2);
    await esbuild.build(esbuildOptions([plugin], { root }));
    expect(lines).toHaveLength(4);
    expect(lines[0]).toBe('pyz: packing dist/web into dist/logged.pyz at myapp/static');
    expect(lines[1]).toMatch(/^pyz: dist\/logged\.pyz \d+\.\d+ (KiB|MiB), [\d,]+ files, \d+\.\d\d s, backend \w+$/);
    expect(readArchive(path.join(root, 'dist/logged.pyz')).payload.map((entry) => entry.name)).toContain('myapp/static/index.html');
  });
});

test('context().watch(): frontend and Python edits rebuild the archive; a failed build keeps it', async () => {
  const root = copyExample();
  const archive = path.join(root, 'dist/app.pyz');
  let ends = 0;
  let failures = 0;
  let building = false;
  let lastEventAt = Date.now();
  const counter: esbuild.Plugin = {
    name: 'count-builds', // registered after pyz: its onEnd runs once the archive is written
    setup(build) {
      build.onStart(() => {
        building = true;
        lastEventAt = Date.now();
      });
      build.onEnd((result) => {
        ends += 1;
        if (result.errors.length > 0) failures += 1;
        building = false;
        lastEventAt = Date.now();
      });
    },
  };
  // A save can reach the watcher as more than one change (and each build stamps a new
  // built_at), so the archive is compared only once the watcher has been idle for a while.
  const settled = () => waitFor('the watcher to settle', () => (!building && Date.now() - lastEventAt > 1500 ? sha256(archive) : undefined));
  const context = await esbuild.context(esbuildOptions([pyz(exampleOptions(root, sitePackages)), counter], { root, logLevel: 'silent' }));
  const changedFrom = (previous: string) => () => {
    const current = existsSync(archive) ? sha256(archive) : previous;
    return current !== previous ? current : undefined;
  };
  try {
    await context.watch();
    await waitFor('the first build', () => (ends >= 1 && existsSync(archive) ? true : undefined));
    const first = await settled();
    const shivRoot = temporaryDirectory('shiv');
    expect(runAppCheck(archive, shivRoot).script).toContain('pyz full-stack example');

    editFile(path.join(root, 'src/main.ts'), "'pyz full-stack example'", "'edited frontend title'");
    await waitFor('a rebuild after editing src/main.ts', changedFrom(first));
    const second = await settled();
    expect(runAppCheck(archive, shivRoot).script).toContain('edited frontend title');

    editFile(path.join(root, 'myapp/app.py'), 'GREETING = "Hello from Flask"', 'GREETING = "Hello from the edited API"');
    await waitFor('a rebuild after editing myapp/app.py', changedFrom(second));
    const third = await settled();
    const afterPythonEdit = runAppCheck(archive, shivRoot);
    expect(afterPythonEdit.greeting).toBe('Hello from the edited API');
    expect(afterPythonEdit.script).toContain('edited frontend title');

    const failuresBefore = failures;
    editFile(path.join(root, 'src/main.ts'), 'void showGreeting();', 'void showGreeting(;');
    await waitFor('the failed rebuild', () => (failures > failuresBefore ? true : undefined));
    expect(await settled()).toBe(third);
  } finally {
    await context.dispose();
  }
});
