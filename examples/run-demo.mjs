#!/usr/bin/env node
// `npm run demo`: build examples/fullstack with `vite build` into examples/fullstack/dist/app.pyz
// (frontend + Flask + gunicorn in one file) and start it with `./dist/app.pyz`.
//
//   node examples/run-demo.mjs            build, start, print the URL; Ctrl-C stops the server
//   node examples/run-demo.mjs --check    build, start, fetch the page and the API, stop (exit 0 if fine)
//   PORT=9000 node examples/run-demo.mjs  another port (default 8000)
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const example = path.join(repository, 'examples/fullstack');
const require = createRequire(import.meta.url);
const check = process.argv.includes('--check');
const port = Number(process.env.PORT ?? 8000);
const url = `http://127.0.0.1:${port}/`;

function run(command, args, options) {
  console.log(`$ ${[command, ...args].map((part) => path.relative(process.cwd(), part) || part).join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(`demo: ${command} exited with ${result.status ?? result.signal}`);
    process.exit(result.status ?? 1);
  }
}

// 1. The plugin and the core are used from their compiled dist/ (as a user would); tsc -b is
//    incremental, so this costs a second when `npm run build` already ran.
run(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', 'packages/core', 'packages/vite-plugin'], { cwd: repository });

// 2. vite build: frontend → dist/web, then the pyz plugin packs dist/web, Flask, gunicorn and
//    myapp (pip install -r requirements.txt .) into dist/app.pyz.
const viteBin = path.join(path.dirname(require.resolve('vite/package.json')), 'bin/vite.js');
run(process.execPath, [viteBin, 'build'], { cwd: example, env: { ...process.env, PIP_RETRIES: process.env.PIP_RETRIES ?? '0' } });

// 3. Start the archive itself, through its shebang, the way a server would.
const archive = path.join(example, 'dist/app.pyz');
console.log(`$ PORT=${port} ./dist/app.pyz`);
const server = spawn(archive, [], { cwd: example, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, PORT: String(port) } });
let stopping = false;
const stop = () => {
  stopping = true;
  if (server.exitCode === null) server.kill('SIGTERM');
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve(code ?? (signal === 'SIGTERM' ? 0 : 1))));

async function waitUntilServing() {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && server.exitCode === null) {
    try {
      const response = await fetch(`${url}api/greeting`);
      if (response.ok) return await response.json();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${archive} did not answer on ${url} within 60 s`);
}

try {
  const greeting = await waitUntilServing();
  console.log(`\ndemo: myapp is serving from ${path.relative(process.cwd(), archive)} at ${url}  (API says: "${greeting.message}")\n`);
  if (check) {
    const page = await fetch(url).then((response) => response.text());
    if (!page.includes('<script type="module"')) throw new Error(`${url} did not return the built index.html`);
    console.log('demo: --check passed (page and API answer)');
    stop();
  }
} catch (error) {
  console.error(`demo: ${error.message}`);
  stop();
  await exited;
  process.exit(1);
}
const status = await exited;
process.exit(stopping ? 0 : status);
