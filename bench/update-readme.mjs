#!/usr/bin/env node
/**
 * Replaces the "Latest results" block of bench/README.md (between the results:start/end
 * markers) with the tables of the latest result file of each suite, each under the command
 * and machine that produced it.
 *
 * Usage: node bench/update-readme.mjs
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIRECTORY, latestResult } from './lib.mjs';

const readme = path.join(BENCH_DIRECTORY, 'README.md');
const blocks = [];
for (const suite of ['build', 'sweep', 'runtime', 'incremental']) {
  const file = latestResult(suite);
  if (!file) continue;
  const result = JSON.parse(fs.readFileSync(file, 'utf8'));
  const machine = result.machine;
  blocks.push(
    [
      `#### \`${suite}\` — ${result.date.slice(0, 10)}`,
      '',
      `\`${result.npmCommand}\` · ${machine.nproc} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, load average at start ${machine.loadAverageAtStart.join(' ')} · node ${machine.node} · ${machine.python}${result.core?.gitHead ? ` · core at ${result.core.gitHead.slice(0, 10)} (fingerprint ${result.core.fingerprint})` : ''} · [${path.basename(file)}](results/${path.basename(file)})`,
      '',
      ...(suite === 'build' && fs.existsSync(path.join(BENCH_DIRECTORY, 'results/build-throughput.svg')) ? ['![build throughput](results/build-throughput.svg)', ''] : []),
      result.sections.map((section) => section.markdown.replace(/^### /gm, '##### ')).join('\n\n'),
    ].join('\n'),
  );
}
const text = fs.readFileSync(readme, 'utf8');
const start = text.indexOf('<!-- results:start -->');
const end = text.indexOf('<!-- results:end -->');
if (start < 0 || end < 0) throw new Error('bench/README.md has no results markers');
const updated = `${text.slice(0, start)}<!-- results:start -->\n${blocks.length ? blocks.join('\n\n') : 'Not measured yet.'}\n${text.slice(end)}`;
fs.writeFileSync(readme, updated);
console.log(`update-readme: ${blocks.length} suite(s) written into bench/README.md`);
