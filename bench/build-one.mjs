#!/usr/bin/env node
/**
 * One pyz build in its own process, so the benchmark can time it like any other contender and
 * read its peak RSS. Usage: node bench/build-one.mjs '<BuildOptions as JSON>'
 * Prints the BuildResult as JSON (plus the process's own maxRSS) on stdout.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

// Not imported from lib.mjs: that module resolves python3 at load time (a process start, ~80 ms
// behind a pyenv shim), which would be timed as part of every pyz build. Same rule as coreRoot().
const root = process.env.PYZ_BENCH_CORE_ROOT || path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const coreEntry = () => path.join(root, 'packages/core/dist/index.js');

const options = JSON.parse(process.argv[2]);
const { buildPyz } = await import(pathToFileURL(coreEntry()).href);
const result = await buildPyz({ config: false, ...options });
process.stdout.write(`${JSON.stringify({ ...result, selfMaxRssKiB: process.resourceUsage().maxRSS })}\n`);
