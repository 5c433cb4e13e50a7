// The example, built by `vite build` and started from its .pyz (gunicorn serving Flask), is
// opened in headless Chromium: the page's script fetches the JSON API and renders it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { pyz } from '../src/index.js';
import { copyExample, exampleOptions, flaskSitePackages, removeTemporaryDirectories, temporaryDirectory, waitFor } from './helpers/fixture.js';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

let server: ChildProcess | undefined;
let browser: Browser | undefined;
let serverOutput = '';
let url = '';

beforeAll(async () => {
  const root = copyExample();
  const { build } = await import('vite');
  await build({ configFile: false, logLevel: 'silent', root, build: { outDir: 'dist/web', emptyOutDir: true }, plugins: [pyz(exampleOptions(root, flaskSitePackages()))] });
  const port = await freePort();
  url = `http://127.0.0.1:${port}/`;
  server = spawn(path.join(root, 'dist/app.pyz'), [], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', WEB_CONCURRENCY: '1', SHIV_ROOT: temporaryDirectory('shiv') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (serverOutput += chunk.toString()));
  let answered = false;
  const poll = async () => {
    try {
      answered = (await fetch(`${url}api/greeting`)).ok;
    } catch {
      answered = false;
    }
  };
  await waitFor(`${url} to answer (server output: ${serverOutput})`, () => {
    if (server!.exitCode !== null) throw new Error(`app.pyz exited with ${server!.exitCode}:\n${serverOutput}`);
    void poll();
    return answered ? true : undefined;
  }, 60_000);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  removeTemporaryDirectories();
});

test('the page served from the .pyz runs its script, which renders the JSON API', async () => {
  const page = await browser!.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  const response = await page.goto(url);
  expect(response?.status()).toBe(200);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 30_000 });
  expect(await page.textContent('#title')).toBe('pyz full-stack example');
  expect(await page.textContent('#greeting')).toBe('Hello from Flask');
  expect(await page.textContent('#details')).toMatch(/^Flask \d+\.\d+\.\d+ on Python 3\.\d+\.\d+, served from app\.pyz$/);
  expect(await page.evaluate(() => getComputedStyle(document.body).fontFamily)).toContain('system-ui'); // the CSS asset loaded
  expect(pageErrors).toEqual([]);
  expect(serverOutput).toMatch(/"GET \/api\/greeting HTTP\/1\.1" 200/);
});
