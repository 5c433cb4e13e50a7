/**
 * Compression levels. pyz speaks libdeflate's scale, 1–12; the zlib-based backends (`zlib`, `js`)
 * cap it at 9.
 *
 * What each level costs: whole builds (a new process each, Node start-up included) of a real
 * site-packages (django, gunicorn, psycopg, numpy: 4,940 files, 82.8 MB without `.pyc`, a third of
 * it one 25 MB shared library) on a shared 2-core x86-64 machine; `npm run bench -- --suite sweep
 * --corpus medium --levels 1,3,5,6,9,12 --runs 3`, 2026-11-30 (sweep-2026-11-30-2.json). Read them
 * as ratios between rows rather than promises. Python's `zipfile` at level 6 (what shiv does)
 * took 2.07 s for 25.8 MB.
 *
 * | level | native           | wasm             | archive | node:zlib (same level) |
 * |------:|-----------------:|-----------------:|--------:|-----------------------:|
 * |     1 | 0.56 s, 149 MB/s | 0.73 s, 114 MB/s | 27.8 MB | 0.80 s, 28.9 MB        |
 * |     3 | 0.63 s, 131 MB/s | 0.84 s,  98 MB/s | 26.6 MB | 0.85 s, 27.8 MB        |
 * |     5 | 0.66 s, 125 MB/s | 0.90 s,  92 MB/s | 25.8 MB | 1.00 s, 26.2 MB        |
 * |     6 | 0.71 s, 117 MB/s | 0.96 s,  86 MB/s | 25.6 MB | 1.11 s, 26.1 MB        |
 * |     9 | 1.18 s,  70 MB/s | 1.54 s,  54 MB/s | 25.4 MB | 1.92 s, 26.0 MB        |
 * |    12 | 4.72 s,  18 MB/s | 5.81 s,  14 MB/s | 24.7 MB | (9 is zlib's maximum)  |
 *
 * Native and WASM write the same bytes, so the sizes hold for both.
 */
import { PyzError } from '../errors.js';

/** What a user may write for a level: an integer 1–12, or `'max'` (= 12). */
export type CompressionLevel = number | 'max';

/** The highest libdeflate level; what `'max'` means. zlib-based backends clamp it to 9. */
export const MAX_LEVEL: number = 12;

/** The highest level of the zlib-based backends (`zlib`, `js`). */
export const MAX_ZLIB_LEVEL: number = 9;

/**
 * The level used when none is given: the lowest libdeflate level whose archive is no larger than
 * Python's `zipfile` at level 6 (25.6 against 25.8 MB above; level 5 gives 25.8 MB, 0.2 % more).
 * Level 1 builds ~25 % faster for 9 % more bytes; level 9 takes ~1.6× as long for 0.8 % fewer;
 * `'max'` (12) ~6× as long for 3.5 % fewer — for release builds.
 * @default 6
 */
export const DEFAULT_LEVEL: number = 6;

/**
 * Turns a user's level into libdeflate's 1–12 scale, or fails with `INVALID_OPTION`.
 * Validate at the boundary (option parsing), so a bad level fails before any work starts.
 */
export function resolveLevel(level: CompressionLevel | undefined = DEFAULT_LEVEL): number {
  if (level === 'max') return MAX_LEVEL;
  if (typeof level !== 'number' || !Number.isInteger(level) || level < 1 || level > MAX_LEVEL) {
    throw new PyzError('INVALID_OPTION', `compression level ${JSON.stringify(level)} is not an integer from 1 to ${MAX_LEVEL} or "max"`, {
      value: level,
      fix: `use 1 (fastest) … ${MAX_LEVEL} (smallest), "max", or leave it unset for ${DEFAULT_LEVEL}`,
    });
  }
  return level;
}

/** The level a zlib-based backend uses for a libdeflate-scale level: levels above 9 become 9. */
export function zlibLevel(level: number): number {
  return Math.min(level, MAX_ZLIB_LEVEL);
}
