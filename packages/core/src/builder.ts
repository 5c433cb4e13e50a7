/**
 * A long-lived builder for watch mode (the bundler plugins use it): keeps state between builds
 * and runs one build at a time. Triggers that arrive while a build runs are coalesced into one
 * follow-up build with the latest overrides, so a burst of edits costs at most one extra build.
 * The archive itself is always replaced atomically by the writer (temporary file + rename), so a
 * process starting the .pyz never sees a half-written file.
 */
import { buildPyz, type BuildResult, type BuildState } from './build.js';
import { resolveOptions, type BuildOptions, type ResolvedOptions } from './options.js';

export interface Builder {
  /** Builds now, or after the running build; resolves with the build that included this trigger. */
  build(overrides?: Partial<BuildOptions>): Promise<BuildResult>;
  /** Waits for the running build and refuses new ones. */
  close(): Promise<void>;
  /** The options every build starts from (validated at creation). */
  readonly options: ResolvedOptions;
}

export function createBuilder(options: BuildOptions): Builder {
  const base = resolveOptions(options);
  const state: BuildState = { identities: new Map() };
  let running: Promise<BuildResult> | null = null;
  let queued: { overrides: Partial<BuildOptions>; promise: Promise<BuildResult>; start: () => void } | null = null;
  let closed = false;

  const runBuild = (overrides: Partial<BuildOptions>): Promise<BuildResult> => {
    const resolved = Object.keys(overrides).length === 0 ? base : resolveOptions({ ...optionsOf(base), ...overrides } as BuildOptions);
    return buildPyz(resolved, state);
  };

  const startNext = (): void => {
    if (queued === null) {
      running = null;
      return;
    }
    const next = queued;
    queued = null;
    next.start();
  };

  return {
    options: base,
    build(overrides: Partial<BuildOptions> = {}): Promise<BuildResult> {
      if (closed) return Promise.reject(new Error('builder is closed'));
      if (running === null) {
        running = runBuild(overrides);
        running.then(startNext, startNext);
        return running;
      }
      if (queued !== null) {
        queued.overrides = { ...queued.overrides, ...overrides };
        return queued.promise;
      }
      let start!: () => void;
      const promise = new Promise<BuildResult>((resolve, reject) => {
        start = () => {
          const current = runBuild(queued_overrides());
          running = current;
          current.then(resolve, reject);
          current.then(startNext, startNext);
        };
      });
      const entry = { overrides, promise, start };
      const queued_overrides = (): Partial<BuildOptions> => entry.overrides;
      queued = entry;
      return promise;
    },
    async close(): Promise<void> {
      closed = true;
      while (running !== null) await (running as Promise<BuildResult>).catch(() => undefined);
    },
  };
}

/** Turns resolved options back into plain options (for re-resolving with overrides). */
function optionsOf(resolved: ResolvedOptions): BuildOptions {
  const { resolved: _marker, level, sourceDateEpoch: _epoch, ...rest } = resolved;
  return { ...rest, level, config: false, sitePackages: [...rest.sitePackages], pipArgs: [...rest.pipArgs], include: [...rest.include] } as BuildOptions;
}
