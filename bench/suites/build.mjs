/**
 * `build`: full-build wall time of pyz per backend and level against anchors measured in the same
 * interleaved run (Python zipfile -6, `python -m zipapp -c`, Info-ZIP `zip -r -6`). Every
 * contender is a child process: wall clock from spawn to exit, peak RSS from GNU time.
 */
import * as fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ANCHOR_ID, anchorContenders, effectiveLevel, probeBackends, pyzContender } from '../contenders.mjs';
import { prepareCorpus } from '../corpus.mjs';
import { formatMegabytes, log, markdownTable } from '../lib.mjs';
import { measureInterleaved } from '../measure.mjs';

/** Creates one scratch directory for a suite's archives; removed unless --keep. */
export function scratchDirectory(options, suite) {
  const directory = fs.mkdtempSync(path.join(options.outputDir || os.tmpdir(), `pyz-bench-${suite}-`));
  return directory;
}

/** pyz contenders for backends × levels, skipping unavailable backends and duplicate capped levels. */
export async function pyzContenders(options, corpus, outputDirectory) {
  const availability = await probeBackends(options.backends);
  const contenders = [];
  const skipped = [];
  for (const backend of options.backends) {
    if (availability[backend] !== null) {
      skipped.push({ backend, reason: availability[backend] });
      log(`build: backend ${backend} unavailable: ${availability[backend]}`);
      continue;
    }
    const seen = new Set();
    for (const level of options.levels.map(Number)) {
      const effective = effectiveLevel(backend, level);
      if (seen.has(effective)) continue;
      seen.add(effective);
      contenders.push(pyzContender({ backend, level: effective, corpus, outputDirectory, checkInfo: !options.skipInfoCheck }));
    }
  }
  return { contenders, availability, skipped };
}

/** Adds MB/s and the ratios against the anchor row measured in the same run. */
export function withRatios(rows, corpus) {
  const anchor = rows.find((row) => row.id === ANCHOR_ID && row.wallMsMedian);
  return rows.map((row) => ({
    ...row,
    inputMBps: row.wallMsMedian ? corpus.bytes / 1e6 / (row.wallMsMedian / 1000) : null,
    speedupVsZipfile: anchor && row.wallMsMedian ? anchor.wallMsMedian / row.wallMsMedian : null,
    sizeVsZipfile: anchor && row.outputBytes ? row.outputBytes / anchor.outputBytes : null,
  }));
}

export function buildTable(rows) {
  const header = ['contender', 'median wall (s)', '±', 'input MB/s', 'speed-up vs zipfile -6', 'output (MB)', 'size vs zipfile', 'peak RSS (MiB)', 'sha256'];
  const body = rows.map((row) =>
    row.error
      ? [row.id, '—', '—', '—', '—', '—', '—', '—', `**${row.error.slice(0, 160).replaceAll('|', '/')}**`]
      : [
          row.id,
          (row.wallMsMedian / 1000).toFixed(2),
          `${row.spreadPercent.toFixed(0)} %`,
          row.inputMBps.toFixed(0),
          row.speedupVsZipfile ? `${row.speedupVsZipfile.toFixed(2)}×` : '—',
          formatMegabytes(row.outputBytes),
          row.sizeVsZipfile ? row.sizeVsZipfile.toFixed(3) : '—',
          row.peakRssKiBMedian ? (row.peakRssKiBMedian / 1024).toFixed(0) : '?',
          `\`${row.sha256.slice(0, 12)}\`${row.kind === 'pyz' && row.distinctHashes > 1 ? ` ⚠ ${row.distinctHashes} hashes` : ''}`,
        ],
  );
  return markdownTable(header, body, 'lrrrrrrrl');
}

/** Same level, native vs wasm: SPEC §4 wants byte-identical archives. */
export function reproducibilityNotes(rows) {
  const notes = [];
  for (const row of rows) if (row.kind === 'pyz' && row.distinctHashes > 1) notes.push(`${row.id}: ${row.distinctHashes} different sha256 over ${row.runs + 1} reproducible builds of the same input (not deterministic)`);
  const byLevel = new Map();
  for (const row of rows) {
    if (row.kind !== 'pyz' || row.error || !['native', 'wasm'].includes(row.backend)) continue;
    byLevel.set(row.level, [...(byLevel.get(row.level) ?? []), row]);
  }
  for (const [level, pair] of byLevel) {
    if (pair.length === 2) notes.push(pair[0].sha256 === pair[1].sha256 ? `level ${level}: native and wasm archives are byte-identical (sha256 ${pair[0].sha256.slice(0, 16)}…)` : `level ${level}: native and wasm archives DIFFER (${pair[0].sha256.slice(0, 12)} vs ${pair[1].sha256.slice(0, 12)}) — SPEC §4 wants them identical`);
  }
  return notes;
}

export async function runBuildSuite(options) {
  const results = [];
  for (const name of options.corpus) {
    const corpus = prepareCorpus(name);
    const outputDirectory = scratchDirectory(options, 'build');
    try {
      const { contenders, skipped } = await pyzContenders(options, corpus, outputDirectory);
      contenders.push(...anchorContenders(options.anchors, { corpus, outputDirectory }));
      log(`build: corpus ${name} (${corpus.files} files, ${formatMegabytes(corpus.bytes)} MB), ${contenders.length} contenders × ${options.runs} runs + warm-up`);
      const rows = withRatios(await measureInterleaved(contenders, { runs: options.runs, label: `${name} ` }), corpus);
      const notes = reproducibilityNotes(rows);
      const markdown = [
        `### build — corpus \`${name}\` (${corpus.files} files, ${formatMegabytes(corpus.bytes)} MB), median of ${options.runs} interleaved runs`,
        '',
        buildTable(rows),
        '',
        ...skipped.map((entry) => `- backend \`${entry.backend}\` not measured: ${entry.reason}`),
        ...notes.map((note) => `- ${note}`),
      ].join('\n');
      results.push({ corpus: { name, files: corpus.files, bytes: corpus.bytes, installed: corpus.installed }, rows, skipped, notes, markdown });
    } finally {
      if (!options.keep) fs.rmSync(outputDirectory, { recursive: true, force: true });
      else log(`build: archives kept in ${outputDirectory}`);
    }
  }
  return results;
}
