/**
 * `pyz build` argument parsing: shiv's flags (same names, same meaning) plus pyz's own; every
 * argument pyz does not know goes to `pip install`, in order (like shiv's click command with
 * ignore_unknown_options).
 */
import { PyzError } from './errors.js';
import type { BuildOptions } from './options.js';

/** Flags that take a value, by every spelling. */
const VALUE_FLAGS: Record<string, string> = {
  '-e': 'entryPoint',
  '--entry-point': 'entryPoint',
  '-c': 'consoleScript',
  '--console-script': 'consoleScript',
  '-o': 'output',
  '--output-file': 'output',
  '-p': 'python',
  '--python': 'python',
  '--site-packages': 'sitePackages',
  '--build-id': 'buildId',
  '--preamble': 'preamble',
  '--root': 'root',
  '--level': 'level',
  '--backend': 'backend',
  '--include': 'include',
  '--pip-python': 'pipPython',
};

const BOOLEAN_FLAGS: Record<string, [string, boolean]> = {
  '--compressed': ['compressed', true],
  '--uncompressed': ['compressed', false],
  '--compile-pyc': ['compilePyc', true],
  '--no-compile-pyc': ['compilePyc', false],
  '-E': ['extendPythonpath', true],
  '--extend-pythonpath': ['extendPythonpath', true],
  '--reproducible': ['reproducible', true],
  '--no-modify': ['noModify', true],
  '--no-pip-cache': ['pipCache', false],
  '--no-incremental': ['incremental', false],
};

export interface CliFlags {
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  help: boolean;
}

/** Parses `pyz build` arguments into build options; unknown arguments go to pip, in order. */
export function parseBuildArguments(argv: readonly string[]): { options: Partial<BuildOptions> & Record<string, unknown>; flags: CliFlags } {
  const options: Record<string, unknown> = {};
  const pipArgs: string[] = [];
  const flags: CliFlags = { quiet: false, verbose: false, json: false, help: false };
  for (let index = 0; index < argv.length; index++) {
    const argument = argv[index]!;
    if (argument === '--') {
      pipArgs.push(...argv.slice(index + 1));
      break;
    }
    const equals = argument.startsWith('--') ? argument.indexOf('=') : -1;
    const name = equals > 0 ? argument.slice(0, equals) : argument;
    const key = VALUE_FLAGS[name];
    if (key !== undefined) {
      let value: string | undefined;
      if (equals > 0) value = argument.slice(equals + 1);
      else value = argv[++index];
      if (value === undefined) {
        throw new PyzError('INVALID_OPTION', `option ${name} needs a value`, { value: name, fix: `write ${name} VALUE (see pyz build --help)` });
      }
      if (key === 'sitePackages') (options.sitePackages as string[] | undefined)?.push(value) ?? (options.sitePackages = [value]);
      else if (key === 'include') {
        const separator = value.lastIndexOf(':');
        if (separator <= 0) throw new PyzError('INVALID_OPTION', `--include "${value}" must be FROM:TO`, { value, fix: 'e.g. --include dist:myapp/static' });
        const mapping = { from: value.slice(0, separator), to: value.slice(separator + 1) };
        (options.include as unknown[] | undefined)?.push(mapping) ?? (options.include = [mapping]);
      } else if (key === 'level') options.level = /^\d+$/.test(value) ? Number(value) : (value as 'max'); // a bad word is refused by resolveOptions, showing it
      else options[key] = value;
      continue;
    }
    const boolean = BOOLEAN_FLAGS[argument];
    if (boolean !== undefined) {
      options[boolean[0]] = boolean[1];
      continue;
    }
    if (argument === '-q' || argument === '--quiet') flags.quiet = true;
    else if (argument === '-v' || argument === '--verbose') flags.verbose = true;
    else if (argument === '--json') flags.json = true;
    else if (argument === '-h' || argument === '--help') flags.help = true;
    else pipArgs.push(argument);
  }
  if (pipArgs.length > 0) options.pipArgs = pipArgs;
  return { options: options as Partial<BuildOptions> & Record<string, unknown>, flags };
}

