#!/usr/bin/env node
/**
 * One pyz build in its own process, so the benchmark can time it like any other contender and
 * read its peak RSS. Usage: node bench/build-one.mjs '<BuildOptions as JSON>'
 * Prints the BuildResult as JSON (plus the process's own maxRSS) on stdout.
 */
import { pathToFileURL } from 'node:url';
import { coreEntry } from './lib.mjs';

const options = JSON.parse(process.argv[2]);
const { buildPyz } = await import(pathToFileURL(coreEntry()).href);
const result = await buildPyz({ config: false, ...options });
process.stdout.write(`${JSON.stringify({ ...result, selfMaxRssKiB: process.resourceUsage().maxRSS })}\n`);
