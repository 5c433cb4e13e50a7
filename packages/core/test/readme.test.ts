/**
 * The README's options table is checked against the code: every build option is documented,
 * and the defaults it states are the exported constants.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKEND, DEFAULT_LEVEL, DEFAULT_PIP_PYTHON, DEFAULT_PYTHON } from '../src/options.js';

const root = path.resolve(__dirname, '../../..');
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
const optionsSource = readFileSync(path.join(root, 'packages/core/src/options.ts'), 'utf8');

function tableRows(): Map<string, { type: string; defaultValue: string }> {
  const start = readme.indexOf('<!-- options-table:start -->');
  const end = readme.indexOf('<!-- options-table:end -->');
  expect(start).toBeGreaterThan(0);
  const rows = new Map<string, { type: string; defaultValue: string }>();
  for (const line of readme.slice(start, end).split('\n')) {
    // Cells are separated by "|" not preceded by a backslash (`number \| 'max'` is one cell).
    const cells = line.split(/(?<!\\)\|/).map((cell) => cell.trim());
    const name = /^`(\w+)`/.exec(cells[1] ?? '')?.[1];
    if (name) rows.set(name, { type: cells[2]!, defaultValue: cells[3]! });
  }
  return rows;
}

function buildOptionNames(): string[] {
  const body = optionsSource.slice(optionsSource.indexOf('export interface BuildOptions {'), optionsSource.indexOf('export interface ResolvedOptions'));
  return [...body.matchAll(/^ {2}(\w+)\??:/gm)].map((match) => match[1]!).filter((name) => !['log', 'cwd', 'onProgress'].includes(name));
}

describe('README options table', () => {
  it('documents every build option', () => {
    const rows = tableRows();
    const names = buildOptionNames();
    expect(names.length).toBeGreaterThan(15);
    for (const name of names) expect(rows.has(name), `README options table lacks ${name}`).toBe(true);
  });

  it('states the defaults the code uses', () => {
    const rows = tableRows();
    expect(rows.get('python')!.defaultValue).toBe(`\`${DEFAULT_PYTHON}\``);
    expect(rows.get('level')!.defaultValue).toBe(`\`${DEFAULT_LEVEL}\``);
    expect(rows.get('backend')!.defaultValue).toBe(`\`${DEFAULT_BACKEND}\``);
    expect(rows.get('pipPython')!.defaultValue).toBe(`\`${DEFAULT_PIP_PYTHON}\``);
  });

  it('states the same defaults as the JSDoc of each option', () => {
    const rows = tableRows();
    for (const [name, jsdocDefault] of [...optionsSource.matchAll(/@default ([^*\n]+?) \*\/\n {2}(\w+)\?:/g)].map((match) => [match[2]!, match[1]!.trim()] as const)) {
      const row = rows.get(name);
      if (!row) continue;
      const quoted = /^'(.*)'$/.exec(jsdocDefault)?.[1] ?? jsdocDefault;
      if (/^(true|false|\d+|\[\])$/.test(quoted) || /^'.*'$/.test(jsdocDefault)) {
        expect(row.defaultValue, `default of ${name}`).toBe(`\`${quoted}\``);
      }
    }
  });
});
