/**
 * Compression levels. pyz speaks libdeflate's scale, 1–12; the zlib-based backends (`zlib`, `js`)
 * cap it at 9.
 *
 * What each level costs, measured on a real site-packages (django, gunicorn, psycopg, numpy:
 * 4,940 files, 82.9 MB without `.pyc`, a third of it one 25 MB shared library), on a shared
 * 2-core x86-64 machine, so read them as ratios between rows rather than promises:
 *
 * | level | native, 2 threads | wasm, 2 workers | size of input | node:zlib, 1 thread (same level) |
 * |------:|------------------:|----------------:|--------------:|---------------------------------:|
 * |     1 |        283 MB/s   |       166 MB/s  |      32.6 %   | 135 MB/s, 33.8 %                 |
 * |     4 |        209 MB/s   |       110 MB/s  |      30.8 %   |                                  |
 * |     6 |        158 MB/s   |       103 MB/s  |      29.9 %   |  65 MB/s, 30.4 %                 |
 * |     9 |         85 MB/s   |        58 MB/s  |      29.7 %   |  29 MB/s, 30.3 %                 |
 * |    12 |         17 MB/s   |        14 MB/s  |      28.8 %   | (9 is zlib's maximum)            |
 *
 * One thread of native level 6 does 108 MB/s, one WASM worker 55 MB/s. Native and WASM write the
 * same bytes, so the sizes hold for both.
 */
import { PyzError } from '../errors.js';

/** What a user may write for a level: an integer 1–12, or `'max'` (= 12). */
export type CompressionLevel = number | 'max';

/** The highest libdeflate level; what `'max'` means. zlib-based backends clamp it to 9. */
export const MAX_LEVEL: number = 12;

/** The highest level of the zlib-based backends (`zlib`, `js`). */
export const MAX_ZLIB_LEVEL: number = 9;

/**
 * The level used when none is given: libdeflate 6 is 1.6 % smaller than zlib 6 on the corpus
 * above and 1.65× as fast per thread. Level 1 is ~1.8× faster again for 9 % more bytes; level 9
 * halves the speed for 0.8 % fewer; `'max'` (12) is ~9× slower for 3.6 % fewer.
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
