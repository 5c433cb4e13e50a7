import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';
import { inflateSync as fflateInflateSync } from 'fflate';

const ZIPCHECK_SCRIPT = fileURLToPath(new URL('./zipcheck.py', import.meta.url));

/** One member as CPython's zipfile reports it (see zipcheck.py). */
export interface PythonZipEntry {
  name: string;
  /** Permission bits from external_attr >> 16. */
  mode: number;
  /** File-type bits (S_IFMT) from external_attr >> 16; 0o100000 for a regular file. */
  fileType: number;
  crc32: number;
  method: number;
  size: number;
  compressedSize: number;
  headerOffset: number;
  flags: number;
  createSystem: number;
  dateTime: number[];
}

export interface PythonZipReport {
  /** "3.8", "3.13", … */
  python: string;
  entries: PythonZipEntry[];
  /** What testzip() returned: the first member whose CRC is wrong, or null (null too when data was not checked). */
  badMember: string | null;
}

export interface PythonZipCheckOptions {
  /** Check the zip stored in this member instead (opened in place, as the bootstrap does). */
  nested?: string;
  /** Read every member and verify its CRC (testzip). Turn off for huge members. @default true */
  checkData?: boolean;
}

/**
 * Opens `archivePath` with CPython's zipfile under `python`, runs testzip() and lists the
 * entries. Throws (with zipfile's error) when Python cannot read the archive or a CRC is wrong.
 */
export function pythonZipCheck(archivePath: string, python: string, options: PythonZipCheckOptions = {}): PythonZipReport {
  const args = [ZIPCHECK_SCRIPT, archivePath];
  if (options.nested !== undefined) args.push('--nested', options.nested);
  if (options.checkData === false) args.push('--no-data');
  const result = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 29 });
  if (result.error) throw result.error;
  let report: PythonZipReport & { error?: string };
  try {
    report = JSON.parse(result.stdout) as PythonZipReport & { error?: string };
  } catch {
    throw new Error(`zipcheck.py under ${python} printed no JSON (status ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  if (report.error !== undefined) throw new Error(`Python ${report.python} zipfile rejected ${archivePath}: ${report.error}`);
  if (report.badMember !== null) throw new Error(`Python ${report.python} zipfile.testzip() found a bad CRC in ${JSON.stringify(report.badMember)}`);
  return report;
}

export interface ToolResult {
  status: number | null;
  /** stdout and stderr together. */
  output: string;
}

/** Runs Info-ZIP's `unzip -t` on the archive. */
export function unzipTest(archivePath: string): ToolResult {
  const result = spawnSync('unzip', ['-t', archivePath], { encoding: 'utf8', maxBuffer: 1 << 29 });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Lines of `unzip -t` output that are warnings or errors (extra bytes, bad offsets, CRC errors). */
export function unzipProblems(output: string): string[] {
  return output.split('\n').filter((line) => /warning|error|extra bytes|bad|mismatch|invalid|attempt to seek/i.test(line) && !/^No errors detected/i.test(line.trim()));
}

/** Runs 7-Zip's `t` (test) command; prefers `7zz` (Debian's 7zip package) over `7z`. */
export function sevenZipTest(archivePath: string): ToolResult {
  for (const command of ['7zz', '7z']) {
    const result = spawnSync(command, ['t', archivePath], { encoding: 'utf8', maxBuffer: 1 << 29 });
    if (result.error && (result.error as NodeJS.ErrnoException).code === 'ENOENT') continue;
    if (result.error) throw result.error;
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }
  throw new Error('7-Zip is not installed (apt-get install 7zip)');
}

/**
 * Decodes a raw deflate stream with two independent decoders (fflate's inflateSync and
 * node:zlib's inflateRawSync), checks that they agree (and match `expected` when given), and
 * returns the bytes.
 */
export function inflateCheck(deflated: Uint8Array, expected?: Uint8Array): Uint8Array {
  const byZlib = new Uint8Array(inflateRawSync(deflated));
  const byFflate = fflateInflateSync(deflated);
  if (!Buffer.from(byZlib).equals(Buffer.from(byFflate))) {
    throw new Error(`deflate decoders disagree: node:zlib gives ${byZlib.length} bytes, fflate ${byFflate.length}`);
  }
  if (expected !== undefined && !Buffer.from(byZlib).equals(Buffer.from(expected))) {
    throw new Error(`deflate stream decodes to ${byZlib.length} bytes that differ from the ${expected.length} expected`);
  }
  return byZlib;
}
