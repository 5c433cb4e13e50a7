/**
 * Build-time checks of what the archive will run: the entry point's module must exist in the
 * payload (or the standard library), and a console script must resolve — through the
 * `[console_scripts]` section of an installed distribution's entry_points.txt (shiv only looks
 * in bin/), else a file in bin/. Failing here saves a user from an archive that cannot start.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { PyzError } from './errors.js';
import type { FileRecord } from './files.js';
import type { ResolvedOptions } from './options.js';

export interface RunTarget {
  /** What environment.json's `entry_point` holds. */
  entryPoint: string | null;
  /** What environment.json's `script` holds (console script name). */
  script: string | null;
  /** What environment.json's `preamble` holds (file name under bin/). */
  preamble: string | null;
}

/** Parses the `[console_scripts]` section of an entry_points.txt (INI syntax). */
export function parseConsoleScripts(text: string): Map<string, string> {
  const scripts = new Map<string, string>();
  let inSection = false;
  for (const rawLine of text.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      inSection = section[1]!.trim() === 'console_scripts';
      continue;
    }
    if (!inSection) continue;
    const separator = line.indexOf('=');
    if (separator <= 0) continue;
    // "name = module:attr [extra1,extra2]" — extras don't change what runs.
    scripts.set(line.slice(0, separator).trim(), line.slice(separator + 1).replace(/\[.*\]\s*$/, '').trim());
  }
  return scripts;
}

function moduleCandidates(moduleName: string): string[] {
  const base = moduleName.split('.').join('/');
  return [`${base}.py`, `${base}/__init__.py`];
}

function moduleExistsInPayload(moduleName: string, paths: ReadonlySet<string>, directories: ReadonlySet<string>): boolean {
  if (moduleCandidates(moduleName).some((candidate) => paths.has(candidate))) return true;
  const base = moduleName.split('.').join('/');
  if (directories.has(base)) return true; // namespace package (PEP 420)
  // Extension modules: name.cpython-311-x86_64-linux-gnu.so, name.abi3.so, name.pyd
  for (const candidate of paths) {
    if (candidate.startsWith(`${base}.`) && /\.(so|pyd)$/.test(candidate) && !candidate.slice(base.length + 1).includes('/')) return true;
  }
  return false;
}

function moduleExistsInPython(moduleName: string, python: string): boolean {
  const top = moduleName.split('.')[0]!;
  const result = spawnSync(python, ['-I', '-c', `import importlib.util, sys; sys.exit(0 if importlib.util.find_spec(${JSON.stringify(top)}) else 1)`], { encoding: 'utf8' });
  return result.status === 0;
}

export async function checkTargets(options: ResolvedOptions, files: readonly FileRecord[]): Promise<RunTarget> {
  const paths = new Set(files.map((file) => file.relativePath));
  const directories = new Set<string>();
  for (const file of files) {
    const parts = file.relativePath.split('/');
    for (let index = 1; index < parts.length; index++) directories.add(parts.slice(0, index).join('/'));
  }
  const preamble = options.preamble === null ? null : options.preamble.split(/[\\/]/).pop()!;

  if (options.entryPoint !== null) {
    const moduleName = options.entryPoint.split(':')[0]!;
    if (!moduleExistsInPayload(moduleName, paths, directories) && !moduleExistsInPython(moduleName, options.pipPython)) {
      const top = [...directories].filter((directory) => !directory.includes('/') && !directory.includes('.') && directory !== 'bin').sort().slice(0, 12);
      throw new PyzError('ENTRY_POINT_NOT_FOUND', `entry point module "${moduleName}" is not in the archive (looked for ${moduleCandidates(moduleName).join(', ')}) nor in the standard library`, {
        value: options.entryPoint,
        fix: `check the spelling or add the package that provides it to the requirements; top-level packages found: ${top.join(', ') || '(none)'}`,
      });
    }
    return { entryPoint: options.entryPoint, script: null, preamble };
  }

  if (options.consoleScript !== null) {
    const available = new Map<string, string>();
    for (const file of files) {
      if (/^[^/]+\.dist-info\/entry_points\.txt$/.test(file.relativePath)) {
        for (const [name, target] of parseConsoleScripts(await fs.promises.readFile(file.sourcePath, 'utf8'))) available.set(name, target);
      }
    }
    const target = available.get(options.consoleScript);
    if (target !== undefined) return { entryPoint: target, script: options.consoleScript, preamble };
    if (paths.has(`bin/${options.consoleScript}`)) return { entryPoint: null, script: options.consoleScript, preamble };
    throw new PyzError('CONSOLE_SCRIPT_NOT_FOUND', `console script "${options.consoleScript}" is not provided by any installed distribution`, {
      value: options.consoleScript,
      fix: available.size > 0 ? `use one of: ${[...available.keys()].sort().join(', ')}` : 'install the package that provides it (no console scripts were found)',
    });
  }
  return { entryPoint: null, script: null, preamble };
}
