/**
 * `sweep`: levels × backends, throughput against output size, for choosing the default level.
 * Same interleaved loop as `build`; the anchors are optional (ratios need `--anchors zipfile`).
 */
import * as fs from 'node:fs';
import { prepareCorpus } from '../corpus.mjs';
import { anchorContenders } from '../contenders.mjs';
import { formatMegabytes, log, markdownTable } from '../lib.mjs';
import { measureInterleaved } from '../measure.mjs';
import { buildTable, pyzContenders, reproducibilityNotes, scratchDirectory, withRatios } from './build.mjs';

function sweepGrid(rows, backends, levels) {
  const header = ['level', ...backends.map((backend) => `${backend}: MB/s · output MB`)];
  const body = levels.map((level) => [
    String(level),
    ...backends.map((backend) => {
      const row = rows.find((candidate) => candidate.backend === backend && candidate.level === level);
      if (!row) return '—';
      if (row.error) return 'invalid';
      return `${row.inputMBps.toFixed(0)} · ${formatMegabytes(row.outputBytes)}`;
    }),
  ]);
  return markdownTable(header, body, `l${'r'.repeat(backends.length)}`);
}

export async function runSweepSuite(options) {
  const results = [];
  for (const name of options.corpus) {
    const corpus = prepareCorpus(name);
    const outputDirectory = scratchDirectory(options, 'sweep');
    try {
      const { contenders, skipped } = await pyzContenders(options, corpus, outputDirectory);
      contenders.push(...anchorContenders(options.anchors, { corpus, outputDirectory }));
      log(`sweep: corpus ${name}, ${contenders.length} contenders × ${options.runs} runs + warm-up`);
      const rows = withRatios(await measureInterleaved(contenders, { runs: options.runs, label: `${name} ` }), corpus);
      const backends = options.backends.filter((backend) => !skipped.some((entry) => entry.backend === backend));
      const levels = [...new Set(rows.filter((row) => row.kind === 'pyz').map((row) => row.level))].sort((a, b) => a - b);
      const notes = reproducibilityNotes(rows);
      const markdown = [
        `### sweep — corpus \`${name}\` (${corpus.files} files, ${formatMegabytes(corpus.bytes)} MB), median of ${options.runs} interleaved runs`,
        '',
        'Input MB/s (wall clock of the whole build process) · output MB. zlib and js cap at level 9.',
        '',
        sweepGrid(rows, backends, levels),
        '',
        buildTable(rows),
        '',
        ...skipped.map((entry) => `- backend \`${entry.backend}\` not measured: ${entry.reason}`),
        ...notes.map((note) => `- ${note}`),
      ].join('\n');
      results.push({ corpus: { name, files: corpus.files, bytes: corpus.bytes }, rows, skipped, notes, markdown });
    } finally {
      if (!options.keep) fs.rmSync(outputDirectory, { recursive: true, force: true });
    }
  }
  return results;
}
