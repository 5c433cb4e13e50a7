/**
 * esbuild plugin: when a build (or a watch-mode rebuild) succeeds, pack its output — read from
 * `outdir` on disk, or from `result.outputFiles` under `write: false` — into a .pyz under
 * `assetsPath`, next to the Python application that @pyz/core installs.
 *
 * Errors fail the build by being returned from `onEnd` (pushing onto `result.errors` would not).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { OutputFile, PartialMessage, Plugin } from 'esbuild';
import { createBuilder, formatBuildSummary, includeOutputDirectory, isPyzError, PyzError, pythonInputFiles, type BuildOptions, type BuildResult } from '@pyz/core';

export interface PyzEsbuildOptions extends BuildOptions {
  /** Package path inside site-packages that receives esbuild's output directory, e.g. `myapp/static`. */
  assetsPath: string;
}

/** Marks the plugin's own build.resolve call, so its onResolve callback does not recurse. */
const RESOLVING: unique symbol = Symbol('pyz resolving an entry point');

const VERBOSE_LOG_LEVELS = new Set(['info', 'debug', 'verbose']);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function toMessage(error: unknown): PartialMessage {
  if (isPyzError(error)) return { text: `${error.code}: ${error.message}`, detail: error };
  return { text: error instanceof Error ? error.message : String(error), detail: error };
}

/** Creates the plugin; a bad option throws a PyzError here, before esbuild starts. */
export function pyz(options: PyzEsbuildOptions): Plugin {
  const { assetsPath, ...buildOptions } = options;
  if (typeof assetsPath !== 'string' || assetsPath.replace(/^\/+|\/+$/g, '') === '') {
    throw new PyzError('INVALID_OPTION', `assetsPath ${JSON.stringify(assetsPath)} must name a package directory inside site-packages`, {
      value: assetsPath,
      fix: "pass the package path that serves the frontend, e.g. assetsPath: 'myapp/static'",
    });
  }
  // The bundle always lands under assetsPath: the builder starts from the options with that
  // mapping (so they validate now) and each build replaces it with the files actually written.
  const userInclude = buildOptions.include ?? [];
  const builderOptions: BuildOptions = {
    ...buildOptions,
    include: [...userInclude, { from: '.', to: assetsPath }],
    log: { info: () => {}, warn: (message) => (buildOptions.log ?? console).warn(message) },
  };
  const { cwd, output: archivePath, pipArgs } = createBuilder(builderOptions).options;

  return {
    name: 'pyz',
    setup(build) {
      // One builder per esbuild build or context: a plugin object may serve several at once.
      const builder = createBuilder(builderOptions);
      const initial = build.initialOptions;
      const workingDirectory = initial.absWorkingDir ?? process.cwd();
      const written = initial.outdir ?? (initial.outfile === undefined ? undefined : path.dirname(initial.outfile));
      if (written === undefined) {
        throw new PyzError('INVALID_OPTION', 'the esbuild build has neither outdir nor outfile, so there is no output to pack', {
          value: null,
          fix: "set outdir (e.g. outdir: 'dist/web') or outfile in the esbuild options",
        });
      }
      const outputDirectory = path.resolve(workingDirectory, written);
      const info = (message: string): void => {
        if (buildOptions.log) buildOptions.log.info(message);
        else if (VERBOSE_LOG_LEVELS.has(initial.logLevel ?? '')) process.stderr.write(`${message}\n`);
      };

      // esbuild watches only what it resolved and loaded, and keeps `watchFiles` only from a
      // callback that resolves: so the entry points are resolved here (by esbuild itself, via
      // build.resolve) and carry the Python sources, and editing a .py file rebuilds in watch().
      const entryNames = Array.isArray(initial.entryPoints)
        ? initial.entryPoints.map((entry) => (typeof entry === 'string' ? entry : entry.in))
        : Object.values(initial.entryPoints ?? {});
      if (entryNames.length > 0) {
        // esbuild hands relative entry points to onResolve as "./src/main.ts".
        const names = entryNames.map((name) => escapeRegExp(name.replace(/^\.\//, '')));
        build.onResolve({ filter: new RegExp(`^(?:\\./)?(?:${names.join('|')})$`) }, async (args) => {
          if (args.kind !== 'entry-point' || args.pluginData === RESOLVING) return undefined;
          const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: RESOLVING });
          if (resolved.errors.length > 0) return { errors: resolved.errors };
          const pythonFiles = pythonInputFiles(pipArgs, userInclude, cwd, outputDirectory);
          return { ...resolved, pluginData: args.pluginData, watchFiles: pythonFiles };
        });
      }

      build.onEnd(async (result) => {
        if (result.errors.length > 0) return undefined; // a failed bundle never replaces the archive
        const inMemory = initial.write === false;
        info(`pyz: packing ${path.relative(cwd, outputDirectory) || '.'} into ${path.relative(cwd, archivePath)} at ${assetsPath}`);
        const task = async (): Promise<BuildResult> => {
          if (!inMemory) return packDirectory(outputDirectory, archivePath);
          // write: false — stage the in-memory files, build the archive beside them, hand it back.
          const staging = await mkdtemp(path.join(os.tmpdir(), 'pyz-esbuild-'));
          try {
            await mkdir(path.join(staging, 'files'), { recursive: true });
            for (const file of result.outputFiles ?? []) {
              const target = path.join(staging, 'files', path.relative(outputDirectory, file.path));
              await mkdir(path.dirname(target), { recursive: true });
              await writeFile(target, file.contents);
            }
            const built = await packDirectory(path.join(staging, 'files'), path.join(staging, path.basename(archivePath)));
            const contents = new Uint8Array(await readFile(built.outputPath));
            result.outputFiles?.push(outputFile(archivePath, contents, built.sha256));
            return { ...built, outputPath: archivePath };
          } finally {
            await rm(staging, { recursive: true, force: true });
          }
        };
        try {
          info(formatBuildSummary(await task(), cwd));
          return undefined;
        } catch (error) {
          return { errors: [toMessage(error)] };
        }
      });

      function packDirectory(directory: string, archive: string): Promise<BuildResult> {
        const include = [...userInclude, ...includeOutputDirectory(directory, assetsPath, archive)];
        return builder.build(archive === archivePath ? { include } : { include, output: archive });
      }
      build.onDispose(() => void builder.close());
    },
  };
}

function outputFile(filePath: string, contents: Uint8Array, hash: string): OutputFile {
  return {
    path: filePath,
    contents,
    hash,
    get text(): string {
      return new TextDecoder().decode(contents);
    },
  };
}

export default pyz;
