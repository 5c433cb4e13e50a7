#!/usr/bin/env node
/**
 * Rebuilds in one long-lived builder, as the bundler plugins run them in watch mode:
 * `createBuilder(options)`, one warm-up build, then for each edit N: rewrite the app's main.py,
 * `builder.build()`, time it. Usage: node bench/watch-rebuilds.mjs '<BuildOptions JSON>' <main.py> <edits>
 * Prints one JSON line: [{ edit, wallMs, pipRuns, reusedEntries, sha256 }, …].
 */
import * as fs from 'node:fs';
import { pathToFileURL } from 'node:url';
import { coreEntry } from './lib.mjs';

const options = JSON.parse(process.argv[2]);
const mainFile = process.argv[3];
const edits = Number(process.argv[4]);
const { createBuilder } = await import(pathToFileURL(coreEntry()).href);
const builder = createBuilder({ config: false, ...options });
await builder.build();
const results = [];
for (let edit = 1; edit <= edits; edit++) {
  fs.writeFileSync(mainFile, `EDIT = ${1000 + edit}\n\n\ndef main():\n    print("benchapp edit", EDIT)\n    return 0\n`);
  const started = performance.now();
  const result = await builder.build();
  results.push({ edit: 1000 + edit, wallMs: performance.now() - started, pipRuns: result.pipRuns, reusedEntries: result.reusedEntries, sha256: result.sha256 });
}
await builder.close();
process.stdout.write(`${JSON.stringify(results)}\n`);
