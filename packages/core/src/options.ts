/**
 * One place that turns what a user wrote (CLI flags, plugin options, `[tool.pyz]` in
 * pyproject.toml) into one fully-defaulted, validated object. The CLI and every plugin go
 * through `resolveOptions`, so each default lives here and only here.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { BackendName } from './compress/types.js';
import { resolveLevel as resolveCompressionLevel } from './compress/levels.js';
import { loadProjectConfigSync } from './config.js';
import { PyzError } from './errors.js';
import { isDirectory } from './files.js';

/** Shebang used when `python` is not given — the same as shiv's. */
export const DEFAULT_PYTHON = '/usr/bin/env python3';
/** Longest shebang line Linux executes whole (BINPRM_BUF_SIZE is 128 bytes, `#!` and `\n` included in shiv's check). */
export const MAX_SHEBANG_BYTES = 128;
/** Python that runs `pip install --target`. */
export const DEFAULT_PIP_PYTHON = 'python3';
export { DEFAULT_LEVEL, MAX_LEVEL } from './compress/levels.js';
/** Compression backend picked when none is given: native, else WASM, else node:zlib. */
export const DEFAULT_BACKEND: BackendOption = 'auto';
/** Fixed timestamp (2020-01-01T00:00:00Z) of every entry under `reproducible` without SOURCE_DATE_EPOCH. */
export const REPRODUCIBLE_EPOCH_SECONDS = 1_577_836_800;

export type BackendOption = 'auto' | BackendName;

/** Where a file or directory on disk goes inside site-packages (plugins use it for frontend assets). */
export interface IncludeMapping {
  /** A file or a directory on disk (relative to `cwd`). */
  from: string;
  /** '/'-separated path inside site-packages, e.g. `myapp/static`. */
  to: string;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** Progress of the packing stage, reported after each written batch. */
export interface BuildProgress {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  elapsedMs: number;
}

/**
 * Options of `buildPyz`, `pyz build` and the bundler plugins. Names follow shiv's flags.
 */
export interface BuildOptions {
  /** `-o/--output-file`: where the .pyz goes. Written to a temporary file and renamed into place. */
  output: string;
  /** `-e/--entry-point`: `package.module:function` (called; its return value is the exit status) or `package.module` (run as `__main__`). @default none (interpreter mode) */
  entryPoint?: string | null;
  /** `-c/--console-script`: a `[console_scripts]` name of an installed distribution, or a file in `bin/`. Cannot be combined with `entryPoint`. @default none */
  consoleScript?: string | null;
  /** `-p/--python`: the interpreter written into the shebang line (at most 128 bytes with `#!`). @default '/usr/bin/env python3' */
  python?: string;
  /** `--site-packages`: prebuilt trees copied into the archive's site-packages, in order. @default [] */
  sitePackages?: string[];
  /** Arguments for `python -m pip install --target <staging> …` (`-r requirements.txt`, `.`, package names). @default [] */
  pipArgs?: string[];
  /** The Python that runs pip; its version, implementation and platform decide which wheels are installed. @default 'python3' */
  pipPython?: string;
  /** Extra files or directories placed inside site-packages (frontend assets). @default [] */
  include?: IncludeMapping[];
  /** `--build-id`: overrides the content hash naming the cache directory. Reusing one id for different content makes old caches serve new archives. @default sha256 of the payload */
  buildId?: string | null;
  /** `--compressed/--uncompressed`: deflate the payload. Uncompressed builds are faster and archives larger. @default true */
  compressed?: boolean;
  /** `--compile-pyc`: byte-compile the extracted dependencies on first run (slower first run, faster later imports). @default false */
  compilePyc?: boolean;
  /** `-E/--extend-pythonpath`: put the extracted site-packages on PYTHONPATH for subprocesses. @default false */
  extendPythonpath?: boolean;
  /** `--reproducible`: fixed timestamps (SOURCE_DATE_EPOCH if set, else 2020-01-01) and a fixed `built_at`. @default false */
  reproducible?: boolean;
  /** `--no-modify`: record sha256 of every file; the runtime refuses to run from a modified cache. Costs a hash per file on first run. @default false */
  noModify?: boolean;
  /** `--preamble`: a script run before the entry point (`.py` in-process, anything else as a subprocess). @default none */
  preamble?: string | null;
  /** `--root`: cache root at run time (may contain `$VAR` and `~`, expanded on the server). @default '~/.shiv' (or SHIV_ROOT) */
  root?: string | null;
  /**
   * Deflate level 1–12 or 'max' (12). Measured on an 83 MB site-packages, native backend, whole
   * build: level 1 takes ~0.8× the time of 6 for ~9 % more bytes; 9 ~1.7× the time for ~0.8 %
   * fewer; 'max' ~6.5× the time for ~3.5 % fewer (table in compress/levels.ts and the README).
   * @default 6
   */
  level?: number | 'max';
  /** Compression backend. @default 'auto' (native → wasm → zlib; PYZ_BACKEND overrides) */
  backend?: BackendOption;
  /** Base directory for relative paths. @default process.cwd() */
  cwd?: string;
  /** Cache `pip install` results keyed by requirements, pip arguments and interpreter. @default true */
  pipCache?: boolean;
  /** Called as files are packed (the CLI draws its progress line from it). @default none */
  onProgress?: (progress: BuildProgress) => void;
  /** Reuse unchanged files' compressed bytes from the previous build of the same output (byte-identical result). Off: every file is read and recompressed. @default true */
  incremental?: boolean;
  /** Receives progress and summary lines. @default silent */
  log?: Logger;
  /** Directory whose pyproject.toml `[tool.pyz]` supplies defaults (options given here win), or false to ignore it. @default cwd */
  config?: string | false;
}

/** Options given explicitly win over `[tool.pyz]`; an explicit entry point or console script replaces both of the config's. */
export function mergeWithConfig(config: Partial<BuildOptions>, options: Partial<BuildOptions>): Partial<BuildOptions> {
  const explicit = Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<BuildOptions>;
  const merged: Partial<BuildOptions> = { ...config, ...explicit };
  if (explicit.entryPoint != null || explicit.consoleScript != null) {
    merged.entryPoint = explicit.entryPoint ?? null;
    merged.consoleScript = explicit.consoleScript ?? null;
  }
  return merged;
}

export interface ResolvedOptions {
  readonly resolved: true;
  readonly output: string;
  readonly entryPoint: string | null;
  readonly consoleScript: string | null;
  readonly python: string;
  readonly sitePackages: readonly string[];
  readonly pipArgs: readonly string[];
  readonly pipPython: string;
  readonly include: readonly IncludeMapping[];
  readonly buildId: string | null;
  readonly compressed: boolean;
  readonly compilePyc: boolean;
  readonly extendPythonpath: boolean;
  readonly reproducible: boolean;
  readonly noModify: boolean;
  readonly preamble: string | null;
  readonly root: string | null;
  readonly level: number;
  readonly backend: BackendOption;
  readonly cwd: string;
  readonly pipCache: boolean;
  readonly incremental: boolean;
  readonly onProgress: ((progress: BuildProgress) => void) | null;
  readonly log: Logger;
  /** Seconds since the epoch for every entry's timestamp and `built_at`, or null for "now". */
  readonly sourceDateEpoch: number | null;
}

const SILENT_LOGGER: Logger = { info() {}, warn() {} };

/** pip options that would send files somewhere other than our staging directory. */
const REFUSED_PIP_OPTIONS: ReadonlyMap<string, string> = new Map([
  ['-t', 'pyz passes its own --target'],
  ['--target', 'pyz passes its own --target'],
  ['--editable', 'editable installs point outside the archive; install the project normally (pass its path, e.g. ".")'],
  ['-d', 'pyz installs packages; --download only fetches them'],
  ['--download', 'pyz installs packages; --download only fetches them'],
  ['--user', 'pyz installs into the archive, not the user site'],
  ['--prefix', 'pyz passes its own --target'],
  ['--root', 'use pyz --root (the runtime cache root) before the pip arguments'],
]);

const IDENTIFIER = '[\\p{ID_Start}_][\\p{ID_Continue}]*';
const DOTTED = `${IDENTIFIER}(?:\\.${IDENTIFIER})*`;
const ENTRY_POINT_PATTERN = new RegExp(`^${DOTTED}(?::${DOTTED})?$`, 'u');

/** Checks `package.module:function` syntax; returns a message for the user, or null when fine. */
export function checkEntryPointSyntax(entryPoint: string): string | null {
  if (ENTRY_POINT_PATTERN.test(entryPoint)) return null;
  if (entryPoint.trim() === '') return 'is empty';
  if ((entryPoint.match(/:/g) ?? []).length > 1) return 'has more than one ":"';
  if (/\s/.test(entryPoint)) return 'contains white space';
  if (entryPoint.includes('/') || entryPoint.endsWith('.py')) return 'is a file path, not a module path';
  return 'is not a dotted Python module path';
}

/** Refuses pip arguments that would install somewhere other than the staging directory. */
export function checkPipArguments(pipArgs: readonly string[]): void {
  for (const argument of pipArgs) {
    const name = argument.startsWith('--') ? argument.split('=', 1)[0]! : argument.startsWith('-t') ? '-t' : argument.startsWith('-d') && !argument.startsWith('--') ? '-d' : argument;
    const reason = REFUSED_PIP_OPTIONS.get(name);
    if (reason !== undefined) {
      throw new PyzError('PIP_ARGUMENT_REFUSED', `pip argument "${argument}" is not allowed: ${reason}`, {
        value: argument,
        fix: `remove "${argument}" from the pip arguments`,
      });
    }
  }
}

function parseSourceDateEpoch(raw: string | undefined): number | null {
  if (raw === undefined || raw === '') return null;
  if (!/^\d+$/.test(raw)) {
    throw new PyzError('INVALID_OPTION', `SOURCE_DATE_EPOCH "${raw}" is not a whole number of seconds`, {
      value: raw,
      fix: 'set SOURCE_DATE_EPOCH to seconds since 1970-01-01 UTC, e.g. $(git log -1 --format=%ct)',
    });
  }
  return Number(raw);
}

function resolveLevel(level: number | 'max' | undefined, compressed: boolean): number {
  return compressed ? resolveCompressionLevel(level) : 0;
}


/**
 * Validates and defaults build options. Throws a PyzError on the first bad option, before any
 * work starts. Idempotent: resolving resolved options returns them unchanged.
 */
export function resolveOptions(options: BuildOptions | ResolvedOptions, environment: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if ((options as ResolvedOptions).resolved === true) return options as ResolvedOptions;
  const given = options as BuildOptions;
  const cwd = path.resolve(given.cwd ?? process.cwd());
  const input = (given.config === false ? given : mergeWithConfig(loadProjectConfigSync(path.resolve(cwd, given.config ?? '.')), given)) as BuildOptions;

  if (typeof input.output !== 'string' || input.output === '') {
    throw new PyzError('INVALID_OPTION', 'no output file given', { value: input.output, fix: 'pass -o/--output-file, e.g. -o dist/app.pyz' });
  }
  const output = path.resolve(cwd, input.output);
  if (isDirectory(output)) {
    throw new PyzError('OUTPUT_IS_DIRECTORY', `output path "${output}" is a directory`, {
      value: output,
      fix: `name a file inside it, e.g. -o ${path.join(input.output, 'app.pyz')}`,
    });
  }

  const entryPoint = input.entryPoint ?? null;
  const consoleScript = input.consoleScript ?? null;
  if (entryPoint !== null && consoleScript !== null) {
    throw new PyzError('ENTRY_POINT_CONFLICT', `both an entry point ("${entryPoint}") and a console script ("${consoleScript}") were given`, {
      value: { entryPoint, consoleScript },
      fix: 'pass only one of -e/--entry-point and -c/--console-script (shiv silently runs the script)',
    });
  }
  if (entryPoint !== null) {
    const problem = checkEntryPointSyntax(entryPoint);
    if (problem !== null) {
      throw new PyzError('ENTRY_POINT_INVALID', `entry point "${entryPoint}" ${problem}; it must look like "package.module:function" or "package.module"`, {
        value: entryPoint,
        fix: 'write the dotted module path, then ":" and the function, e.g. -e myapp.main:main',
      });
    }
  }
  if (consoleScript !== null && (consoleScript === '' || /[\/\s]/.test(consoleScript))) {
    throw new PyzError('CONSOLE_SCRIPT_NOT_FOUND', `console script "${consoleScript}" is not a script name`, {
      value: consoleScript,
      fix: 'pass the name of a [console_scripts] entry of an installed distribution, e.g. -c flask',
    });
  }

  const python = input.python ?? DEFAULT_PYTHON;
  const shebangBytes = Buffer.byteLength(`#!${python}\n`);
  if (python.trim() === '' || python.includes('\n')) {
    throw new PyzError('INVALID_OPTION', `interpreter ${JSON.stringify(python)} is not a single command line`, {
      value: python,
      fix: 'pass -p with an interpreter path, e.g. -p "/usr/bin/env python3"',
    });
  }
  if (shebangBytes > MAX_SHEBANG_BYTES) {
    throw new PyzError('SHEBANG_TOO_LONG', `shebang "#!${python}" is ${shebangBytes} bytes; Linux reads at most ${MAX_SHEBANG_BYTES}`, {
      value: python,
      fix: 'use a shorter interpreter path, e.g. -p "/usr/bin/env python3"',
    });
  }

  const pipArgs = [...(input.pipArgs ?? [])];
  checkPipArguments(pipArgs);

  const sitePackages = (input.sitePackages ?? []).map((directory) => path.resolve(cwd, directory));
  for (const directory of sitePackages) {
    if (!isDirectory(directory)) {
      throw new PyzError('SITE_PACKAGES_NOT_FOUND', `--site-packages directory "${directory}" does not exist or is not a directory`, {
        value: directory,
        fix: 'build the tree first (e.g. pip install --target build/site .) or fix the path',
      });
    }
  }

  const include = (input.include ?? []).map((mapping) => {
    const to = mapping.to.replace(/^\/+|\/+$/g, '');
    if (to.split('/').some((part) => part === '..' || part === '.') || mapping.to.includes('\\')) {
      throw new PyzError('INVALID_OPTION', `include target "${mapping.to}" must be a relative '/'-separated path without "." or ".."`, {
        value: mapping.to,
        fix: 'use a package path such as myapp/static',
      });
    }
    return { from: path.resolve(cwd, mapping.from), to };
  });

  let preamble: string | null = null;
  if (input.preamble != null) {
    preamble = path.resolve(cwd, input.preamble);
    try {
      if (!statSync(preamble).isFile()) throw new Error('not a file');
    } catch {
      throw new PyzError('PREAMBLE_NOT_FOUND', `preamble "${preamble}" is not a readable file`, { value: preamble, fix: 'fix the --preamble path' });
    }
  }

  if (pipArgs.length === 0 && sitePackages.length === 0 && include.length === 0) {
    throw new PyzError('INVALID_OPTION', 'nothing to pack: no pip arguments, no --site-packages and no include', {
      value: null,
      fix: 'pass requirements (e.g. -r requirements.txt .) or --site-packages DIR',
    });
  }

  const backend = input.backend ?? DEFAULT_BACKEND;
  if (!['auto', 'native', 'wasm', 'zlib', 'js'].includes(backend)) {
    throw new PyzError('INVALID_OPTION', `backend "${backend}" is unknown`, { value: backend, fix: 'use auto, native, wasm, zlib or js' });
  }
  if (input.buildId != null && !/^[\w.-]{1,128}$/.test(input.buildId)) {
    throw new PyzError('INVALID_OPTION', `build id "${input.buildId}" must be 1–128 letters, digits, ".", "_" or "-"`, {
      value: input.buildId,
      fix: 'it names a directory in the runtime cache; use e.g. a git commit hash',
    });
  }
  const compressed = input.compressed ?? true;
  const reproducible = input.reproducible ?? false;
  const sourceDateEpoch = parseSourceDateEpoch(environment.SOURCE_DATE_EPOCH) ?? (reproducible ? REPRODUCIBLE_EPOCH_SECONDS : null);

  return {
    resolved: true,
    output,
    entryPoint,
    consoleScript,
    python,
    sitePackages,
    pipArgs,
    pipPython: input.pipPython ?? DEFAULT_PIP_PYTHON,
    include,
    buildId: input.buildId ?? null,
    compressed,
    compilePyc: input.compilePyc ?? false,
    extendPythonpath: input.extendPythonpath ?? false,
    reproducible,
    noModify: input.noModify ?? false,
    preamble,
    root: input.root ?? null,
    level: resolveLevel(input.level, compressed),
    backend,
    cwd,
    pipCache: input.pipCache ?? true,
    incremental: input.incremental ?? true,
    onProgress: input.onProgress ?? null,
    log: input.log ?? SILENT_LOGGER,
    sourceDateEpoch,
  };
}
