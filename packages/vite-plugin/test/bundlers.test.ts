// One fixture (examples/fullstack), built by Vite 8, Vite 7, Rollup 4 and esbuild (write: true
// and write: false): the archives agree entry for entry, apart from hashed asset names, and
// each one serves the page, its script and the API from the archive.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { rollup } from 'rollup';
import * as esbuild from 'esbuild';
import { pyz as pyzEsbuild } from '../../esbuild-plugin/src/index.js';
import { pyz } from '../src/index.js';
import { rollupOptions } from '../../../examples/fullstack/bundlers/rollup.mjs';
import { esbuildOptions } from '../../../examples/fullstack/bundlers/esbuild.mjs';
import {
  copyExample,
  exampleOptions,
  flaskSitePackages,
  normalizeAssetName,
  readArchive,
  removeTemporaryDirectories,
  runAppCheck,
  temporaryDirectory,
  type ArchiveListing,
} from './helpers/fixture.js';

type Builder = (root: string, options: ReturnType<typeof exampleOptions>) => Promise<void>;

const silentVite = { configFile: false as const, logLevel: 'silent' as const };

const builders: Record<string, Builder> = {
  'vite 8': async (root, options) => {
    const { build } = await import('vite');
    await build({ ...silentVite, root, build: { outDir: 'dist/web', emptyOutDir: true }, plugins: [pyz(options)] });
  },
  'vite 7': async (root, options) => {
    const { build } = await import('vite7');
    await build({ ...silentVite, root, build: { outDir: 'dist/web', emptyOutDir: true }, plugins: [pyz(options)] });
  },
  'rollup 4': async (root, options) => {
    const config = rollupOptions([pyz(options)], { root });
    const bundle = await rollup({ ...config, onLog: () => {} });
    await bundle.write(config.output);
    await bundle.close();
  },
  'esbuild write: true': async (root, options) => {
    await esbuild.build(esbuildOptions([pyzEsbuild(options)], { root }));
  },
  'esbuild write: false': async (root, options) => {
    const result = await esbuild.build(esbuildOptions([pyzEsbuild(options)], { root, write: false }));
    const archive = result.outputFiles.find((file) => file.path === path.join(root, options.output));
    expect(archive, 'the .pyz is handed back in outputFiles').toBeDefined();
    mkdirSync(path.dirname(archive!.path), { recursive: true });
    writeFileSync(archive!.path, archive!.contents, { mode: 0o755 });
  },
};

let root: string;
let sitePackages: string;
const listings = new Map<string, ArchiveListing>();

beforeAll(() => {
  sitePackages = flaskSitePackages();
  root = copyExample();
});
afterAll(removeTemporaryDirectories);

describe.each(Object.keys(builders))('%s', (name) => {
  test('builds the example into a runnable archive with the frontend under myapp/static', async () => {
    rmSync(path.join(root, 'dist'), { recursive: true, force: true });
    const options = exampleOptions(root, sitePackages, `dist/${name.replace(/\W+/g, '-')}.pyz`);
    await builders[name]!(root, options);

    const archive = path.join(root, options.output);
    const listing = readArchive(archive);
    listings.set(name, listing);
    const names = listing.payload.map((entry) => entry.name);
    expect(names).toContain('myapp/static/index.html');
    expect(names).toContain('myapp/static/favicon.svg'); // public/, copied by the bundler, not in its bundle
    expect(names).toContain('myapp/serve.py');
    expect(names).toContain('flask/app.py');
    expect(names.filter((entry) => entry.endsWith('.pyz'))).toEqual([]);
    expect(listing.environment.entry_point).toBe('myapp.serve:main');

    const check = runAppCheck(archive, temporaryDirectory('shiv'));
    expect(check.index).toBe(200);
    expect(check.title).toBe('pyz full-stack example');
    expect(check.greeting).toBe('Hello from Flask');
    expect(check.scripts).toHaveLength(1);
    expect(check.scriptStatus).toEqual([200]);
    expect(check.script).toContain('/api/greeting');
    expect(check.favicon).toBe(200);
  });
});

test('every bundler gives the same listing (hashed asset names normalized)', () => {
  expect([...listings.keys()]).toEqual(Object.keys(builders));
  const normalized = (listing: ArchiveListing) =>
    listing.payload
      .map((entry) => // bundled files differ in bytes; public/ copies and the Python side must not
        (/^myapp\/static\/(assets\/|index\.html$)/.test(entry.name) ? { name: normalizeAssetName(entry.name), mode: entry.mode } : entry))
      .sort((left, right) => (left.name < right.name ? -1 : 1));
  const [first, ...others] = [...listings.values()].map(normalized);
  const staticNames = first!.filter((entry) => entry.name.startsWith('myapp/static/')).map((entry) => entry.name);
  expect(staticNames).toEqual([
    'myapp/static/assets/index-[hash].css',
    'myapp/static/assets/index-[hash].js',
    'myapp/static/favicon.svg',
    'myapp/static/index.html',
    'myapp/static/robots.txt',
  ]);
  for (const other of others) expect(other).toEqual(first);
});
