import path from 'node:path';
import type { BuildResult } from './build.js';

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/**
 * The one summary line of a build, shared by the CLI and the plugins:
 * `pyz: dist/app.pyz 11.52 MiB, 1,234 files, 2.10 s, backend native`.
 */
export function formatBuildSummary(result: BuildResult, cwd: string = process.cwd()): string {
  const shown = path.relative(cwd, result.outputPath) || result.outputPath;
  const reused = result.reusedEntries > 0 ? `, ${result.reusedEntries.toLocaleString('en-US')} unchanged entries reused` : '';
  return `pyz: ${shown} ${formatSize(result.size)}, ${result.files.toLocaleString('en-US')} files, ${(result.durationMs / 1000).toFixed(2)} s, backend ${result.backend}${reused}`;
}
