#!/usr/bin/env node
/**
 * Draws bench/results/build-throughput.svg — input MB/s per contender from the latest build
 * results — as hand-written SVG (no dependency), for the README.
 *
 * Usage: node bench/chart.mjs [results/build-YYYY-MM-DD.json] [--corpus medium] [--output FILE]
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { RESULTS_DIRECTORY, latestResult, parseArguments } from './lib.mjs';

const options = parseArguments(
  process.argv.slice(2).filter((argument) => !argument.endsWith('.json')),
  { corpus: '', output: path.join(RESULTS_DIRECTORY, 'build-throughput.svg') },
);
const input = process.argv.slice(2).find((argument) => argument.endsWith('.json')) ?? latestResult('build');
if (!input) {
  console.error('chart: no build results yet; run "npm run bench -- --suite build" first');
  process.exit(1);
}
const results = JSON.parse(fs.readFileSync(input, 'utf8'));
const section = results.sections.find((candidate) => !options.corpus || candidate.corpus.name === options.corpus) ?? results.sections[0];
const rows = section.rows.filter((row) => !row.error && row.inputMBps).sort((left, right) => right.inputMBps - left.inputMBps);
if (rows.length === 0) {
  console.error(`chart: ${input} has no valid rows`);
  process.exit(1);
}

function escape(text) {
  return String(text).replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

/** A round axis maximum: 1, 2 or 5 × a power of ten, at or above the largest value. */
function niceMaximum(value) {
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((candidate) => candidate >= value);
}

const width = 760;
const labelWidth = 190;
const valueWidth = 150;
const barHeight = 22;
const gap = 8;
const top = 58;
const plotWidth = width - labelWidth - valueWidth - 20;
const height = top + rows.length * (barHeight + gap) + 46;
const maximum = niceMaximum(Math.max(...rows.map((row) => row.inputMBps)));
const x = (value) => labelWidth + (value / maximum) * plotWidth;
const machine = results.machine;
const corpus = section.corpus;
const title = `Full build of the ${corpus.name} corpus (${corpus.files.toLocaleString('en-US')} files, ${(corpus.bytes / 1e6).toFixed(0)} MB): input MB/s, higher is better`;
const subtitle = `median of ${rows[0].runs} interleaved runs · ${machine.nproc} × ${machine.cpuModel} · node ${machine.node} · ${machine.python} · ${results.date.slice(0, 10)}`;

const parts = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
  `<title>${escape(title)}</title>`,
  `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  `<text x="12" y="22" font-size="14" font-weight="600" fill="#111">${escape(title)}</text>`,
  `<text x="12" y="40" fill="#555">${escape(subtitle)}</text>`,
];
for (let tick = 0; tick <= 4; tick++) {
  const value = (maximum / 4) * tick;
  const tickX = x(value);
  parts.push(`<line x1="${tickX.toFixed(1)}" y1="${top - 4}" x2="${tickX.toFixed(1)}" y2="${height - 38}" stroke="#e3e3e3"/>`);
  parts.push(`<text x="${tickX.toFixed(1)}" y="${height - 24}" text-anchor="middle" fill="#666">${value % 1 ? value.toFixed(1) : value}</text>`);
}
parts.push(`<text x="${(labelWidth + plotWidth / 2).toFixed(1)}" y="${height - 8}" text-anchor="middle" fill="#666">MB/s of input (wall clock of the whole process)</text>`);
rows.forEach((row, index) => {
  const y = top + index * (barHeight + gap);
  const color = row.kind === 'pyz' ? '#2f6fdb' : '#9a9a9a';
  const ratio = row.speedupVsZipfile ? ` · ${row.speedupVsZipfile.toFixed(2)}× zipfile` : '';
  parts.push(`<text x="${labelWidth - 8}" y="${y + barHeight / 2 + 4}" text-anchor="end" fill="#222">${escape(row.id)}</text>`);
  parts.push(`<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(row.inputMBps) - labelWidth).toFixed(1)}" height="${barHeight}" rx="2" fill="${color}"/>`);
  parts.push(`<text x="${(x(row.inputMBps) + 6).toFixed(1)}" y="${y + barHeight / 2 + 4}" fill="#222">${row.inputMBps.toFixed(0)} MB/s${escape(ratio)}</text>`);
});
parts.push('</svg>');

fs.mkdirSync(path.dirname(options.output), { recursive: true });
fs.writeFileSync(options.output, `${parts.join('\n')}\n`);
console.log(`chart: wrote ${path.relative(process.cwd(), options.output)} from ${path.relative(process.cwd(), input)}`);
