/**
 * Compression levels. pyz speaks libdeflate's scale, 1–12; the zlib-based backends (`zlib`, `js`)
 * cap it at 9. Figures: TODO_MEASURED
 */
import { PyzError } from '../errors.js';

/** What a user may write for a level: an integer 1–12, or `'max'` (= 12). */
export type CompressionLevel = number | 'max';

/** The highest libdeflate level; what `'max'` means. zlib-based backends clamp it to 9. */
export const MAX_LEVEL: number = 12;

/** The highest level of the zlib-based backends (`zlib`, `js`). */
export const MAX_ZLIB_LEVEL: number = 9;

/** @default 6 */
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
