/**
 * The `pyz` command: `pyz build` (shiv's flags), `pyz info` (shiv-info), `pyz cache`.
 * The only place that maps errors to exit statuses (STYLE: the library never exits).
 */
import path from 'node:path';
import { buildPyz } from './build.js';
import { listRuntimeCache, pruneRuntimeCache } from './cache.js';
import { EXIT_CODES, PyzError } from './errors.js';
import { formatPyzInfo, readPyzInfo } from './info.js';
import { formatBuildSummary } from './summary.js';
import type { BuildOptions, BuildProgress, Logger } from './options.js';
import { buildCacheRoot, listPipCache } from './pip.js';
import { PYZ_VERSION } from './version.js';
import { parseBuildArguments, type CliFlags } from './cli-arguments.js';

export { parseBuildArguments };

const HELP = `pyz ${PYZ_VERSION} — build one executable file holding a Python application and its dependencies

Usage:
  pyz build [options] [pip arguments…]   build a .pyz (shiv's flags; other arguments go to pip install)
  pyz info [-j] [--list] FILE             show an archive's environment.json (like shiv-info) and files
  pyz cache list|prune [options]          inspect or clean the runtime cache (~/.shiv) and build cache
  pyz --help | --version

Run "pyz <command> --help" for the options of a command.
`;

const BUILD_HELP = `Usage: pyz build [options] [pip arguments…]

Options (shiv's names and meaning):
  -e, --entry-point MOD:FUNC   what to run: "pkg.module:function" or "pkg.module"
  -c, --console-script NAME    run a console script of an installed distribution
  -o, --output-file PATH       the .pyz to write (required)
  -p, --python SHEBANG         interpreter line (default "/usr/bin/env python3", ≤ 128 bytes)
  --site-packages DIR          add a prebuilt site-packages tree (repeatable)
  --build-id ID                name of the cache directory (default: content hash)
  --compressed/--uncompressed  deflate the payload (default: compressed)
  --compile-pyc                byte-compile the dependencies on first run
  -E, --extend-pythonpath      put the dependencies on PYTHONPATH for subprocesses
  --reproducible               fixed timestamps (SOURCE_DATE_EPOCH or 2020-01-01)
  --no-modify                  refuse to run from a modified cache
  --preamble FILE              run FILE before the entry point
  --root DIR                   runtime cache root ($VAR and ~ are expanded at run time)
pyz options:
  --level N|max                deflate level 1–12 (default 6; max = 12)
  --backend NAME               auto, native, wasm, zlib or js (default auto; env PYZ_BACKEND)
  --include FROM:TO            put a file or directory inside site-packages at TO
  --pip-python PYTHON          the Python that runs pip (default python3)
  --no-pip-cache               always run pip
  --no-incremental             recompress every file (default: reuse unchanged entries)
  -q, --quiet / -v, --verbose  less or more output
  --json                       print the result as JSON
Arguments pyz does not know are passed to "python -m pip install --target <staging>";
-t/--target, --editable, -d/--download, --user and --prefix are refused.

Examples:
  pyz build -e myapp.main:main -o dist/myapp.pyz -r requirements.txt .
  pyz build -c flask -o flask.pyz flask
  pyz build --site-packages build/site -e myapp.main:main -o dist/myapp.pyz
  SOURCE_DATE_EPOCH=1700000000 pyz build --reproducible -e app:main -o app.pyz .
`;

const INFO_HELP = `Usage: pyz info [-j|--json] [--list] FILE

Prints the archive's environment.json like shiv-info; --list adds every file of the payload
(mode, size, compressed size, method, CRC-32, path).

Examples:
  pyz info dist/app.pyz
  pyz info -j --list dist/app.pyz | jq '.files | length'
`;

const CACHE_HELP = `Usage: pyz cache list [--root DIR] [--json]
       pyz cache prune [--root DIR] [--older-than DURATION] [--all] [--build] [--dry-run]

The runtime cache is where archives extract their dependencies: \${SHIV_ROOT:-~/.shiv}.
prune removes extractions that are not in use: by default all but the newest of each app;
--older-than 7d (s, m, h, d, w) removes those unused for longer; --all removes every unused one.
--build also prunes the build-side dependency cache (\${XDG_CACHE_HOME:-~/.cache}/pyz).

Examples:
  pyz cache list
  pyz cache prune --older-than 30d
`;

function makeLogger(flags: CliFlags, progressLine: { clear(): void }): Logger {
  return {
    info(message) {
      if (flags.quiet || flags.json) return;
      // pip's own lines only with --verbose; pyz's lines always.
      if (message.startsWith('pip: ') && !flags.verbose && !/^pip: (dependency cache|requirements include|python)/.test(message)) return;
      progressLine.clear();
      process.stderr.write(`${message}\n`);
    },
    warn(message) {
      progressLine.clear();
      process.stderr.write(`warning: ${message}\n`);
    },
  };
}

function formatSeconds(milliseconds: number): string {
  return milliseconds < 10_000 ? `${(milliseconds / 1000).toFixed(1)}s` : `${Math.round(milliseconds / 1000)}s`;
}

/** A progress line redrawn in place on a TTY (files, MB, MB/s, time left); nothing otherwise. */
function makeProgressLine(enabled: boolean): { update(progress: BuildProgress): void; clear(): void } {
  let drawn = false;
  let lastDraw = 0;
  return {
    update(progress) {
      if (!enabled) return;
      const now = performance.now();
      if (now - lastDraw < 100 && progress.filesDone < progress.filesTotal) return;
      lastDraw = now;
      const megabytesPerSecond = progress.bytesDone / 1e6 / Math.max(progress.elapsedMs / 1000, 0.001);
      const remainingMs = megabytesPerSecond > 0 ? ((progress.bytesTotal - progress.bytesDone) / 1e6 / megabytesPerSecond) * 1000 : 0;
      const line = `packing ${progress.filesDone}/${progress.filesTotal} files  ${(progress.bytesDone / 1e6).toFixed(1)}/${(progress.bytesTotal / 1e6).toFixed(1)} MB  ${megabytesPerSecond.toFixed(1)} MB/s  ${formatSeconds(remainingMs)} left`;
      process.stderr.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    clear() {
      if (drawn) process.stderr.write('\r\x1b[2K');
      drawn = false;
    },
  };
}

async function commandBuild(argv: readonly string[]): Promise<number> {
  const { options, flags } = parseBuildArguments(argv);
  if (flags.help) {
    process.stdout.write(BUILD_HELP);
    return 0;
  }
  const progressLine = makeProgressLine(process.stderr.isTTY === true && !flags.quiet && !flags.json);
  const log = makeLogger(flags, progressLine);
  // resolveOptions merges [tool.pyz] from ./pyproject.toml; flags given here win.
  const result = await buildPyz({ ...options, log, onProgress: (progress) => progressLine.update(progress) } as BuildOptions).finally(() => progressLine.clear());
  if (flags.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (!flags.quiet) {
    process.stderr.write(`${formatBuildSummary(result)}${flags.verbose ? `\npyz: build id ${result.buildId}, sha256 ${result.sha256}` : ''}\n`);
  }
  return 0;
}

async function commandInfo(argv: readonly string[]): Promise<number> {
  let json = false;
  let list = false;
  const files: string[] = [];
  for (const argument of argv) {
    if (argument === '-j' || argument === '--json') json = true;
    else if (argument === '-l' || argument === '--list') list = true;
    else if (argument === '-h' || argument === '--help') {
      process.stdout.write(INFO_HELP);
      return 0;
    } else files.push(argument);
  }
  if (files.length !== 1) throw new PyzError('INVALID_OPTION', `pyz info takes one archive, got ${files.length}${files.length ? `: ${files.join(' ')}` : ''}`, { value: files, fix: 'pyz info [-j] [--list] FILE — run it once per archive' });
  const info = await readPyzInfo(files[0]!, { listFiles: list });
  process.stdout.write(json ? `${JSON.stringify(list ? { ...info.environment, files: info.files } : info.environment, null, 4)}\n` : formatPyzInfo(info));
  return 0;
}

function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw]?)$/.exec(text);
  if (!match) throw new PyzError('INVALID_OPTION', `duration "${text}" is not understood`, { value: text, fix: 'write a number with s, m, h, d or w, e.g. 7d' });
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[match[2]!]!;
  return Number(match[1]) * unit * 1000;
}

async function commandCache(argv: readonly string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === undefined || action === '-h' || action === '--help') {
    process.stdout.write(CACHE_HELP);
    return action === undefined ? EXIT_CODES.usage! : 0;
  }
  let root: string | undefined;
  let olderThanMs: number | undefined;
  let all = false;
  let build = false;
  let dryRun = false;
  let json = false;
  for (let index = 0; index < rest.length; index++) {
    const argument = rest[index]!;
    if (argument === '--root') root = rest[++index];
    else if (argument.startsWith('--root=')) root = argument.slice(7);
    else if (argument === '--older-than') olderThanMs = parseDuration(rest[++index] ?? '');
    else if (argument.startsWith('--older-than=')) olderThanMs = parseDuration(argument.slice(13));
    else if (argument === '--all') all = true;
    else if (argument === '--build') build = true;
    else if (argument === '--dry-run') dryRun = true;
    else if (argument === '--json' || argument === '-j') json = true;
    else throw new PyzError('INVALID_OPTION', `unknown option "${argument}" for pyz cache ${action}`, { value: argument, fix: 'see pyz cache --help' });
  }
  if (action === 'list') {
    const entries = await listRuntimeCache(root);
    const buildEntries = await listPipCache();
    if (json) {
      process.stdout.write(`${JSON.stringify({ runtime: entries, build: buildEntries }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(`runtime cache: ${entries.root}\n`);
    if (entries.entries.length === 0) process.stdout.write('  (empty)\n');
    for (const entry of entries.entries) {
      process.stdout.write(`  ${entry.name}  ${(entry.bytes / 1e6).toFixed(1)} MB  ${entry.files} files  last used ${entry.lastUsed}${entry.inUse ? '  (in use)' : ''}${entry.complete ? '' : '  (incomplete)'}\n`);
    }
    process.stdout.write(`build cache: ${buildCacheRoot()}\n`);
    if (buildEntries.length === 0) process.stdout.write('  (empty)\n');
    for (const entry of buildEntries) process.stdout.write(`  pip/${entry.key}  ${(entry.bytes / 1e6).toFixed(1)} MB  ${entry.files} files  ${entry.mtime.toISOString()}\n`);
    return 0;
  }
  if (action === 'prune') {
    const result = await pruneRuntimeCache({ root, olderThanMs, all, dryRun, build });
    if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else {
      for (const removed of result.removed) process.stdout.write(`${dryRun ? 'would remove' : 'removed'} ${removed}\n`);
      for (const kept of result.keptInUse) process.stdout.write(`kept ${kept} (in use)\n`);
      process.stdout.write(`${result.removed.length} removed, ${(result.freedBytes / 1e6).toFixed(1)} MB freed\n`);
    }
    return 0;
  }
  throw new PyzError('INVALID_OPTION', `unknown cache action "${action}"`, { value: action, fix: 'use pyz cache list or pyz cache prune' });
}

/** Runs the CLI; returns the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'build':
        return await commandBuild(rest);
      case 'info':
        return await commandInfo(rest);
      case 'cache':
        return await commandCache(rest);
      case '--version':
      case '-V':
        process.stdout.write(`${PYZ_VERSION}\n`);
        return 0;
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(HELP);
        return command === undefined ? EXIT_CODES.usage! : 0;
      default:
        throw new PyzError('INVALID_OPTION', `unknown command "${command}"`, { value: command, fix: 'use pyz build, pyz info or pyz cache (see pyz --help)' });
    }
  } catch (error) {
    if (error instanceof PyzError) {
      process.stderr.write(`pyz: error ${error.code}: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`pyz: internal error: ${(error as Error)?.stack ?? String(error)}\n`);
    return EXIT_CODES.internal!;
  }
}
