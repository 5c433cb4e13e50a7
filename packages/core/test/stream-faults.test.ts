/**
 * Big members (over 4 MiB) are streamed piece by piece. These tests break a build in the middle
 * of one, in a child process that runs the built package (dist/) with node:fs patched to fail on
 * cue, and check what a user gets: a FILE_UNREADABLE error naming the file, the previous archive
 * untouched, no unhandled rejection, no descriptor left open. They also check that the worker
 * backends leave the host's `--expose-gc` as they found it.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTemporaryDirectory, type TemporaryDirectory } from './helpers/index.js';

const DIST_INDEX = fileURLToPath(new URL('../dist/index.js', import.meta.url));

/**
 * argv: scenario, backend ('none' = --uncompressed), work directory. Prints one JSON line.
 * Scenarios: `eio` (the 3rd read of the big file fails with EIO), `vanish` (the big file is
 * deleted before it is opened), `shrink` (truncated to 2 MiB + 12,345 bytes after the 3rd read).
 */
const FAULT_SCRIPT = `
import fs from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
const [scenario, backend, work] = process.argv.slice(2);
const unhandled = [];
process.on('unhandledRejection', (error) => unhandled.push(String(error)));
const site = path.join(work, 'site');
fs.mkdirSync(path.join(site, 'app'), { recursive: true });
fs.writeFileSync(path.join(site, 'app', '__init__.py'), '');
fs.writeFileSync(path.join(site, 'app', 'main.py'), 'def main():\\n    print("hi")\\n');
const big = path.join(site, 'app', 'big.bin');
fs.writeFileSync(big, Buffer.alloc(6 << 20, 'pyz streams this '));
fs.writeFileSync(path.join(site, 'app', 'zz.txt'), 'after\\n');
const output = path.join(work, 'app.pyz');
fs.writeFileSync(output, 'PREVIOUS');
const watched = new Set();
let reads = 0;
const { openSync, readSync, readFileSync } = fs;
fs.openSync = function (file, ...rest) {
  const descriptor = openSync.call(this, file, ...rest);
  if (file === big) watched.add(descriptor);
  return descriptor;
};
fs.readSync = function (descriptor, ...rest) {
  if (watched.has(descriptor) && ++reads === 3) {
    if (scenario === 'eio') throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
    if (scenario === 'shrink') fs.truncateSync(big, (2 << 20) + 12345);
  }
  return readSync.call(this, descriptor, ...rest);
};
fs.readFileSync = function (file, ...rest) {
  // The bootstrap files are read after the listing: the big file is gone by the time it is read.
  if (scenario === 'vanish' && typeof file === 'string' && file.endsWith('__main__.py') && fs.existsSync(big)) fs.unlinkSync(big);
  return readFileSync.call(this, file, ...rest);
};
module.syncBuiltinESMExports();
const openDescriptors = () => fs.readdirSync('/proc/self/fd').filter((name) => {
  try { return fs.readlinkSync('/proc/self/fd/' + name).startsWith(site); } catch { return false; }
}).length;
const { buildPyz } = await import(${JSON.stringify(DIST_INDEX)});
const result = { unhandled };
try {
  const built = await buildPyz({ config: false, backend: backend === 'none' ? 'auto' : backend, compressed: backend !== 'none', sitePackages: [site], entryPoint: 'app.main:main', output, reproducible: true, incremental: false });
  result.built = { payloadBytes: built.payloadBytes };
  result.member = JSON.parse(execFileSync('python3', ['-c', [
    'import hashlib, io, json, sys, zipfile',
    'outer = zipfile.ZipFile(sys.argv[1])',
    'payload = zipfile.ZipFile(io.BytesIO(outer.read(json.loads(outer.read("environment.json"))["payload"])))',
    'bad = payload.testzip()',
    'data = payload.read("app/big.bin")',
    'print(json.dumps({"bad": bad, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}))',
  ].join('\\n'), output], { encoding: 'utf8' }));
  result.fileNow = { size: fs.statSync(big).size, sha256: (await import('node:crypto')).createHash('sha256').update(readFileSync(big)).digest('hex') };
} catch (error) {
  result.error = { code: error.code, message: error.message, fix: error.fix };
  result.previousKept = readFileSync(output, 'utf8') === 'PREVIOUS';
  result.leftovers = fs.readdirSync(work).filter((name) => name.endsWith('.tmp'));
}
await new Promise((resolve) => setTimeout(resolve, 50)); // a late rejection would land here
result.openDescriptors = openDescriptors();
console.log(JSON.stringify(result));
`;

/** argv: backend. Builds once, then reports whether new contexts and workers see a `gc`. */
const GC_FLAG_SCRIPT = `
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { Worker } from 'node:worker_threads';
const [backend] = process.argv.slice(2);
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pyz-gc-flag-'));
const site = path.join(work, 'site', 'app');
fs.mkdirSync(site, { recursive: true });
fs.writeFileSync(path.join(site, '__init__.py'), 'x = 1\\n'.repeat(1000));
const seen = () => new Promise((resolve) => {
  const worker = new Worker("require('node:worker_threads').parentPort.postMessage(typeof gc)", { eval: true });
  worker.once('message', (type) => resolve({ context: vm.runInNewContext('typeof gc'), worker: type }));
});
const before = await seen();
const { buildPyz } = await import(${JSON.stringify(DIST_INDEX)});
await buildPyz({ config: false, backend, sitePackages: [path.join(work, 'site')], output: path.join(work, 'app.pyz'), incremental: false });
const after = await seen();
fs.rmSync(work, { recursive: true, force: true });
console.log(JSON.stringify({ before, after }));
`;

let directory: TemporaryDirectory;
let faultScript: string;
let gcScript: string;

beforeAll(async () => {
  directory = await makeTemporaryDirectory('pyz-stream-faults-');
  faultScript = directory.join('fault.mjs');
  gcScript = directory.join('gc-flag.mjs');
  writeFileSync(faultScript, FAULT_SCRIPT);
  writeFileSync(gcScript, GC_FLAG_SCRIPT);
});

afterAll(async () => {
  await directory.remove();
});

interface FaultResult {
  unhandled: string[];
  openDescriptors: number;
  built?: { payloadBytes: number };
  member?: { bad: string | null; size: number; sha256: string };
  fileNow?: { size: number; sha256: string };
  error?: { code: string; message: string; fix: string };
  previousKept?: boolean;
  leftovers?: string[];
}

function runFault(scenario: string, backend: string): FaultResult {
  const work = directory.join(`${scenario}-${backend}`);
  const ran = spawnSync(process.execPath, [faultScript, scenario, backend, work], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, PIP_RETRIES: '0' } });
  expect(ran.status, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as FaultResult;
}

describe('a big member that fails while it streams', () => {
  for (const backend of ['native', 'wasm', 'zlib', 'none']) {
    it(`${backend}: a read error is FILE_UNREADABLE naming the file; the previous archive is kept`, () => {
      const result = runFault(backend === 'none' ? 'vanish' : 'eio', backend);
      expect(result.error?.code).toBe('FILE_UNREADABLE');
      expect(result.error?.message).toContain(path.join('app', 'big.bin'));
      expect(result.error?.fix).toBeTruthy();
      expect(result.previousKept).toBe(true);
      expect(result.leftovers).toEqual([]);
      expect(result.unhandled).toEqual([]);
      expect(result.openDescriptors).toBe(0);
    });
  }

  for (const backend of ['native', 'zlib']) {
    it(`${backend}: a file truncated mid-stream is packed as read, and the archive is valid`, () => {
      const result = runFault('shrink', backend);
      expect(result.error).toBeUndefined();
      expect(result.member?.bad).toBeNull();
      // Read: two full pieces, then what was left of the third after the truncation.
      expect(result.member?.size).toBe(result.fileNow?.size);
      expect(result.member?.sha256).toBe(result.fileNow?.sha256);
      expect(result.unhandled).toEqual([]);
      expect(result.openDescriptors).toBe(0);
    });
  }
});

describe('the worker backends and the host\'s V8 flags', () => {
  for (const backend of ['zlib', 'wasm']) {
    for (const exposed of [false, true]) {
      it(`${backend}: ${exposed ? 'a host run with --expose-gc keeps its gc' : 'a host without --expose-gc gets no gc'}`, () => {
        const ran = spawnSync(process.execPath, [...(exposed ? ['--expose-gc'] : []), gcScript, backend], { encoding: 'utf8', timeout: 60_000 });
        expect(ran.status, ran.stderr).toBe(0);
        const { before, after } = JSON.parse(ran.stdout.trim()) as { before: object; after: object };
        const expected = exposed ? 'function' : 'undefined';
        expect(before).toEqual({ context: expected, worker: expected });
        expect(after).toEqual(before);
      });
    }
  }
});
