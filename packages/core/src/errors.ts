/**
 * The one error class of pyz. Every failure a user can cause carries a stable string `code`,
 * the offending value and a fix, so that a message reads:
 *   `entry point "app.main" must look like "package.module:function" (no ":" found)`
 * The library never exits the process; only the CLI maps `code` to an exit status.
 */
export type PyzErrorCode =
  // options and flags (validated before any work starts)
  | 'INVALID_OPTION'
  | 'ENTRY_POINT_INVALID'
  | 'ENTRY_POINT_NOT_FOUND'
  | 'ENTRY_POINT_CONFLICT'
  | 'CONSOLE_SCRIPT_NOT_FOUND'
  | 'SHEBANG_TOO_LONG'
  | 'PIP_ARGUMENT_REFUSED'
  | 'CONFIG_INVALID'
  // inputs
  | 'SITE_PACKAGES_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'SYMLINK_DANGLING'
  | 'SYMLINK_LOOP'
  | 'SYMLINK_OUTSIDE_TREE'
  | 'FILE_NAME_NOT_ENCODABLE'
  | 'FILE_TOO_LARGE'
  | 'PREAMBLE_NOT_FOUND'
  // pip
  | 'PIP_FAILED'
  | 'PYTHON_NOT_FOUND'
  // output
  | 'OUTPUT_IS_DIRECTORY'
  | 'OUTPUT_NOT_WRITABLE'
  | 'WRITE_FAILED'
  // archives
  | 'ARCHIVE_INVALID'
  | 'ARCHIVE_UNSAFE_MEMBER'
  // compression backends
  | 'BACKEND_UNAVAILABLE'
  // runtime cache management (pyz cache)
  | 'CACHE_INVALID'
  | 'BUILD_CANCELLED'
  | 'INTERNAL';

/** Exit status per error class, used by the CLI only (documented in the README). */
export const EXIT_CODES: Readonly<Record<string, number>> = {
  usage: 2,
  input: 3,
  pip: 4,
  output: 5,
  archive: 6,
  backend: 7,
  internal: 70,
};

const CLASS_OF_CODE: Readonly<Record<PyzErrorCode, keyof typeof EXIT_CODES>> = {
  INVALID_OPTION: 'usage',
  ENTRY_POINT_INVALID: 'usage',
  ENTRY_POINT_NOT_FOUND: 'input',
  ENTRY_POINT_CONFLICT: 'usage',
  CONSOLE_SCRIPT_NOT_FOUND: 'input',
  SHEBANG_TOO_LONG: 'usage',
  PIP_ARGUMENT_REFUSED: 'usage',
  CONFIG_INVALID: 'usage',
  SITE_PACKAGES_NOT_FOUND: 'input',
  FILE_UNREADABLE: 'input',
  SYMLINK_DANGLING: 'input',
  SYMLINK_LOOP: 'input',
  SYMLINK_OUTSIDE_TREE: 'input',
  FILE_NAME_NOT_ENCODABLE: 'input',
  FILE_TOO_LARGE: 'input',
  PREAMBLE_NOT_FOUND: 'input',
  PIP_FAILED: 'pip',
  PYTHON_NOT_FOUND: 'pip',
  OUTPUT_IS_DIRECTORY: 'output',
  OUTPUT_NOT_WRITABLE: 'output',
  WRITE_FAILED: 'output',
  ARCHIVE_INVALID: 'archive',
  ARCHIVE_UNSAFE_MEMBER: 'archive',
  BACKEND_UNAVAILABLE: 'backend',
  CACHE_INVALID: 'archive',
  BUILD_CANCELLED: 'internal',
  INTERNAL: 'internal',
};

export interface PyzErrorDetails {
  /** The offending value, shown to the user as it was given. */
  value?: unknown;
  /** What the user can do about it. */
  fix?: string;
  cause?: unknown;
}

export class PyzError extends Error {
  override readonly name: string = 'PyzError';
  readonly code: PyzErrorCode;
  readonly value: unknown;
  readonly fix: string | undefined;

  constructor(code: PyzErrorCode, message: string, details: PyzErrorDetails = {}) {
    super(details.fix ? `${message}\n  fix: ${details.fix}` : message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.value = details.value;
    this.fix = details.fix;
  }

  /** The CLI's exit status for this error's class. */
  get exitCode(): number {
    return EXIT_CODES[CLASS_OF_CODE[this.code]] ?? EXIT_CODES.internal!;
  }
}

export function isPyzError(error: unknown): error is PyzError {
  return error instanceof PyzError;
}
