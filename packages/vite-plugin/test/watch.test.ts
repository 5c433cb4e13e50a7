// `vite build --watch` (Vite 8 and Vite 7): an edit to a frontend file and an edit to a Python
// file each give an updated, runnable .pyz; a failed rebuild leaves the previous one in place.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pyz } from '../src/index.js';
import {
  copyExample,
  editFile,
  exampleOptions,
  flaskSitePackages,
  removeTemporaryDirectories,
  runAppCheck,
  sha256,
  temporaryDirectory,
  waitFor,
} from './helpers/fixture.js';

interface WatchEvent {
  code: string;
  result?: { close?: () => unknown };
}
interface Watcher {
  on(name: 'event', listener: (event: WatchEvent) => void): unknown;
  close(): Promise<void>;
}

let sitePackages: string;
beforeAll(() => {
  sitePackages = flaskSitePackages();
});
afterAll(removeTemporaryDirectories);

const versions = [
  ['vite 8', async () => (await import('vite')).build],
  ['vite 7', async () => (await import('vite7')).build],
] as const;

describe.each(versions)('%s build --watch', (_name, loadBuild) => {
  test('frontend and Python edits rebuild the archive; a failed build keeps it', async () => {
    const root = copyExample();
    const archive = path.join(root, 'dist/app.pyz');
    const build = (await loadBuild()) as (config: object) => Promise<unknown>;
    const watcher = (await build({
      configFile: false,
      logLevel: 'silent',
      root,
      build: { outDir: 'dist/web', emptyOutDir: true, watch: {} },
      plugins: [pyz(exampleOptions(root, sitePackages))],
    })) as Watcher;
    const seen: string[] = [];
    let lastEventAt = Date.now();
    watcher.on('event', (event) => {
      seen.push(event.code);
      lastEventAt = Date.now();
      void event.result?.close?.();
    });
    // A save can reach the watcher as more than one change (and each build stamps a new
    // built_at), so the archive is compared only once the watcher has been idle for a while.
    const settled = () =>
      waitFor('the watcher to settle', () => (['END', 'ERROR'].includes(seen.at(-1) ?? '') && Date.now() - lastEventAt > 1500 ? sha256(archive) : undefined));
    const count = (code: string) => seen.filter((seenCode) => seenCode === code).length;
    const changedFrom = (previous: string) => () => {
      const current = existsSync(archive) ? sha256(archive) : previous;
      return current !== previous ? current : undefined;
    };
    try {
      await waitFor('the first build', () => (count('END') >= 1 && existsSync(archive) ? true : undefined));
      const first = await settled();
      const shivRoot = temporaryDirectory('shiv');
      expect(runAppCheck(archive, shivRoot).script).toContain('pyz full-stack example');

      editFile(path.join(root, 'src/main.ts'), "'pyz full-stack example'", "'edited frontend title'");
      await waitFor('a rebuild after editing src/main.ts', changedFrom(first));
      const second = await settled();
      const afterFrontendEdit = runAppCheck(archive, shivRoot);
      expect(afterFrontendEdit.script).toContain('edited frontend title');
      expect(afterFrontendEdit.greeting).toBe('Hello from Flask');

      editFile(path.join(root, 'myapp/app.py'), 'GREETING = "Hello from Flask"', 'GREETING = "Hello from the edited API"');
      await waitFor('a rebuild after editing myapp/app.py', changedFrom(second));
      const third = await settled();
      const afterPythonEdit = runAppCheck(archive, shivRoot);
      expect(afterPythonEdit.greeting).toBe('Hello from the edited API');
      expect(afterPythonEdit.script).toContain('edited frontend title');

      const errorsBefore = count('ERROR');
      editFile(path.join(root, 'src/main.ts'), 'void showGreeting();', 'void showGreeting(;');
      await waitFor('the failed rebuild', () => (count('ERROR') > errorsBefore ? true : undefined));
      expect(await settled()).toBe(third);
      expect(runAppCheck(archive, shivRoot).greeting).toBe('Hello from the edited API');
    } finally {
      await watcher.close();
    }
  });
});
