/**
 * `[tool.pyz]` in pyproject.toml: every build option, spelled like the CLI flag
 * (`entry-point`, `output-file`, `site-packages`, …; snake_case works too). CLI flags and plugin
 * options win over it. Without an entry point or console script, the entry point defaults to the
 * only `[project.scripts]` entry when there is exactly one.
 */
import * as fs from 'node:fs';
import path from 'node:path';
import { parse } from 'smol-toml';
import { PyzError } from './errors.js';
import type { BuildOptions } from './options.js';

/** Config keys (kebab-case) → option names, with the expected type. */
const CONFIG_KEYS: Readonly<Record<string, [keyof BuildOptions, 'string' | 'boolean' | 'strings' | 'level' | 'include', boolean?]>> = {
  'entry-point': ['entryPoint', 'string'],
  'console-script': ['consoleScript', 'string'],
  'output-file': ['output', 'string', true],
  output: ['output', 'string', true],
  python: ['python', 'string'],
  'site-packages': ['sitePackages', 'strings', true],
  'pip-args': ['pipArgs', 'strings'],
  'pip-python': ['pipPython', 'string'],
  'build-id': ['buildId', 'string'],
  compressed: ['compressed', 'boolean'],
  'compile-pyc': ['compilePyc', 'boolean'],
  'extend-pythonpath': ['extendPythonpath', 'boolean'],
  reproducible: ['reproducible', 'boolean'],
  'no-modify': ['noModify', 'boolean'],
  preamble: ['preamble', 'string', true],
  root: ['root', 'string'],
  level: ['level', 'level'],
  backend: ['backend', 'string'],
  include: ['include', 'include'],
  'pip-cache': ['pipCache', 'boolean'],
};

function invalid(file: string, key: string, value: unknown, expected: string): PyzError {
  return new PyzError('CONFIG_INVALID', `[tool.pyz] ${key} in ${file} is ${JSON.stringify(value)}; expected ${expected}`, {
    value,
    fix: `fix ${key} in ${file} (see the options table in the README)`,
  });
}

/** Reads `[tool.pyz]` (and `[project.scripts]`) from `directory/pyproject.toml`; {} when absent. */
export function loadProjectConfigSync(directory: string): Partial<BuildOptions> {
  const file = path.join(directory, 'pyproject.toml');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new PyzError('CONFIG_INVALID', `${file} is not valid TOML: ${(error as Error).message.split('\n')[0]}`, { value: file, fix: 'fix the TOML syntax at the line shown', cause: error });
  }
  const tool = (document.tool as Record<string, unknown> | undefined)?.pyz;
  const options: Record<string, unknown> = {};
  if (tool !== undefined) {
    if (tool === null || typeof tool !== 'object' || Array.isArray(tool)) throw invalid(file, 'tool.pyz', tool, 'a table');
    for (const [rawKey, value] of Object.entries(tool as Record<string, unknown>)) {
      const key = rawKey.replace(/_/g, '-');
      const spec = CONFIG_KEYS[key];
      if (!spec) {
        throw new PyzError('CONFIG_INVALID', `[tool.pyz] in ${file} has an unknown key "${rawKey}"`, { value: rawKey, fix: `use one of: ${Object.keys(CONFIG_KEYS).join(', ')}` });
      }
      const [name, type, isPath] = spec;
      const resolvePath = (candidate: string): string => (isPath ? path.resolve(directory, candidate) : candidate);
      switch (type) {
        case 'string':
          if (typeof value !== 'string') throw invalid(file, rawKey, value, 'a string');
          options[name] = resolvePath(value);
          break;
        case 'boolean':
          if (typeof value !== 'boolean') throw invalid(file, rawKey, value, 'true or false');
          options[name] = value;
          break;
        case 'strings':
          if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) throw invalid(file, rawKey, value, 'an array of strings');
          options[name] = (value as string[]).map(resolvePath);
          break;
        case 'level':
          if (value !== 'max' && typeof value !== 'number') throw invalid(file, rawKey, value, 'a number 1–12 or "max"');
          options[name] = value;
          break;
        case 'include':
          if (!Array.isArray(value) || value.some((item) => typeof item !== 'object' || item === null || typeof item.from !== 'string' || typeof item.to !== 'string')) {
            throw invalid(file, rawKey, value, 'an array of { from = "...", to = "..." } tables');
          }
          options[name] = (value as { from: string; to: string }[]).map((item) => ({ from: path.resolve(directory, item.from), to: item.to }));
          break;
      }
    }
  }
  if (options.entryPoint === undefined && options.consoleScript === undefined) {
    const scripts = (document.project as Record<string, unknown> | undefined)?.scripts;
    if (scripts && typeof scripts === 'object' && !Array.isArray(scripts)) {
      const targets = Object.values(scripts as Record<string, unknown>).filter((target): target is string => typeof target === 'string');
      if (targets.length === 1) options.entryPoint = targets[0]!.replace(/\[.*\]\s*$/, '').trim();
    }
  }
  return options as Partial<BuildOptions>;
}
