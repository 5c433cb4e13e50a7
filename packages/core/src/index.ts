/**
 * @pyz/core — build shiv-compatible single-file Python applications (.pyz) from Node.js.
 */
export { buildPyz, type BuildResult, type BuildTimings } from './build.js';
export { createBuilder, type Builder } from './builder.js';
export { listRuntimeCache, pruneRuntimeCache, type PruneResult, type RuntimeCacheEntry, type RuntimeCacheListing } from './cache.js';
export { loadBackend } from './compress/index.js';
export type { BackendName, CompressedBuffer, CompressionBackend } from './compress/types.js';
export { EXIT_CODES, PyzError, isPyzError, type PyzErrorCode } from './errors.js';
export { includeOutputDirectory, pythonInputFiles } from './inputs.js';
export { formatPyzInfo, readPyzInfo, type PyzFileInfo, type PyzInfo } from './info.js';
export {
  DEFAULT_BACKEND,
  DEFAULT_LEVEL,
  DEFAULT_PIP_PYTHON,
  DEFAULT_PYTHON,
  MAX_LEVEL,
  MAX_SHEBANG_BYTES,
  REPRODUCIBLE_EPOCH_SECONDS,
  resolveOptions,
  type BackendOption,
  type BuildOptions,
  type BuildProgress,
  type IncludeMapping,
  type Logger,
  type ResolvedOptions,
} from './options.js';
export { formatBuildSummary } from './summary.js';
export { PYZ_VERSION } from './version.js';
