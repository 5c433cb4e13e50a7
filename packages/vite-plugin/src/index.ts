/**
 * Vite (7, 8) and Rollup (4) plugin: after the bundle is written, pack the output directory —
 * emitted chunks and assets, Vite's `publicDir` copies and manifest — into a .pyz under
 * `assetsPath`, next to the Python application that @pyz/core installs.
 *
 * The plugin only translates: it finds what the bundler wrote, calls the core and reports
 * through the bundler's channels (`this.error`, Vite's logger or `this.info`).
 */
import path from 'node:path';
import { createBuilder, formatBuildSummary, includeOutputDirectory, isPyzError, PyzError, pythonInputFiles, type BuildOptions, type BuildResult } from '@pyz/core';

/** Vite environment whose build emits the archive when none is named. */
export const DEFAULT_ENVIRONMENT = 'client';

export interface PyzPluginOptions extends BuildOptions {
  /** Package path inside site-packages that receives the bundler's output directory, e.g. `myapp/static`. */
  assetsPath: string;
  /** Vite environment (Environment API) whose build writes the archive; other environments are ignored. Not used by Rollup. @default 'client' */
  environment?: string;
}

/** The part of a Rollup/Rolldown plugin context the plugin uses. */
interface BundlerContext {
  error(error: string | Error): never;
  warn(message: string): void;
  info?(message: string): void;
  addWatchFile(id: string): void;
  meta: { watchMode: boolean };
}

/** The part of Vite's resolved config the plugin uses. */
interface ViteConfigFacts {
  root: string;
  logger: { info(message: string): void; warn(message: string): void };
}

/** The plugin object; assignable to Vite's `Plugin` and to Rollup's `Plugin`. */
export interface PyzPlugin {
  name: 'pyz';
  apply: 'build';
  applyToEnvironment(environment: { name: string }): boolean;
  configResolved(config: ViteConfigFacts): void;
  buildStart(this: BundlerContext): void;
  writeBundle: {
    order: 'post';
    sequential: true;
    handler(this: BundlerContext, outputOptions: { dir?: string; file?: string }): Promise<void>;
  };
}

/** `pyz: dist/app.pyz 11.52 MiB, 1,234 files, 2.10 s, backend native` — the wording core's CLI uses too. */
export function summaryLine(result: BuildResult, cwd: string): string {
  return formatBuildSummary(result, cwd);
}

/**
 * Creates the plugin. Options are validated here (a bad option throws a PyzError at once, not
 * after the frontend build).
 */
export function pyz(options: PyzPluginOptions): PyzPlugin {
  const { assetsPath, environment = DEFAULT_ENVIRONMENT, ...buildOptions } = options;
  if (typeof assetsPath !== 'string' || assetsPath.replace(/^\/+|\/+$/g, '') === '') {
    throw new PyzError('INVALID_OPTION', `assetsPath ${JSON.stringify(assetsPath)} must name a package directory inside site-packages`, {
      value: assetsPath,
      fix: "pass the package path that serves the frontend, e.g. assetsPath: 'myapp/static'",
    });
  }
  // The frontend always lands under assetsPath: the builder starts from the options with that
  // mapping (so they validate now) and each build replaces it with the files actually written.
  const userInclude = buildOptions.include ?? [];
  let warn = (message: string): void => (buildOptions.log ?? console).warn(message);
  const builder = createBuilder({
    ...buildOptions,
    include: [...userInclude, { from: '.', to: assetsPath }],
    log: { info: () => {}, warn: (message) => warn(message) },
  });
  const { cwd, output: archivePath, pipArgs } = builder.options;
  let viteConfig: ViteConfigFacts | undefined;
  let outputDirectory = '';

  return {
    name: 'pyz',
    apply: 'build',
    applyToEnvironment: (candidate) => candidate.name === environment,
    configResolved(config) {
      viteConfig = config;
    },
    buildStart() {
      if (!this.meta.watchMode) return;
      for (const file of pythonInputFiles(pipArgs, userInclude, cwd, outputDirectory)) this.addWatchFile(file);
    },
    writeBundle: {
      order: 'post',
      sequential: true,
      async handler(outputOptions) {
        const written = outputOptions.dir ?? (outputOptions.file === undefined ? undefined : path.dirname(outputOptions.file));
        if (written === undefined) return this.error('pyz: the bundle has no output.dir or output.file to pack');
        outputDirectory = path.resolve(written);
        // Rollup prefixes plugin logs with "[plugin pyz]" itself.
        const info = (message: string): void => (viteConfig ? viteConfig.logger.info(message) : this.info?.(message.replace(/^pyz: /, '')));
        info(`pyz: packing ${path.relative(cwd, outputDirectory) || '.'} into ${path.relative(cwd, archivePath)} at ${assetsPath}`);
        warn = (message) => this.warn(message);
        try {
          info(summaryLine(await builder.build({ include: [...userInclude, ...includeOutputDirectory(outputDirectory, assetsPath, archivePath)] }), cwd));
        } catch (error) {
          if (isPyzError(error)) return this.error(`${error.code}: ${error.message}`);
          return this.error(error instanceof Error ? error : new Error(String(error)));
        }
      },
    },
  };
}

export default pyz;
