/**
 * `pyz info`: what shiv-info prints (environment.json, text or JSON), plus the file list of the
 * payload. Reads only central directories and environment.json, never extracts anything.
 */
import { PyzError } from './errors.js';
import { ENVIRONMENT_NAME } from './layout.js';
import { ZipArchive, type ZipArchiveEntry } from './zip/reader.js';

export interface PyzFileInfo {
  /** Path inside site-packages. */
  path: string;
  size: number;
  compressedSize: number;
  crc32: number;
  mode: number;
  method: number;
}

export interface PyzInfo {
  path: string;
  /** environment.json as stored. */
  environment: Record<string, unknown>;
  /** Entries of the outer zip (bootstrap, environment.json, payload). */
  archiveEntries: PyzFileInfo[];
  /** Every file of the payload, when asked for. */
  files?: PyzFileInfo[];
}

const UNIX_HOST = 3;
const FILE_TYPE_MASK = 0o170000;
const SYMBOLIC_LINK = 0o120000;

/** Symbolic-link members could point anywhere once extracted; pyz never writes them (APPNOTE 4.4.2: host 3 = Unix, mode in the high 16 bits). */
function refuseSymbolicLinks(file: string, entries: readonly ZipArchiveEntry[]): void {
  for (const entry of entries) {
    if (entry.madeByHost === UNIX_HOST && ((entry.externalAttributes >>> 16) & FILE_TYPE_MASK) === SYMBOLIC_LINK) {
      throw new PyzError('ARCHIVE_UNSAFE_MEMBER', `archive member ${JSON.stringify(entry.name)} in "${file}" is a symbolic link, which pyz refuses`, {
        value: entry.name,
        fix: 'rebuild the archive with pyz build (it stores the files links point to, never links)',
      });
    }
  }
}

function toInfo(entry: { name: string; uncompressedSize: number | bigint; compressedSize: number | bigint; crc32: number; mode: number; method: number }): PyzFileInfo {
  return { path: entry.name, size: Number(entry.uncompressedSize), compressedSize: Number(entry.compressedSize), crc32: entry.crc32, mode: entry.mode, method: entry.method };
}

/** Reads environment.json (and optionally the payload listing) of a .pyz. */
export async function readPyzInfo(file: string, options: { listFiles?: boolean } = {}): Promise<PyzInfo> {
  try {
    return await readPyzInfoUnlabelled(file, options);
  } catch (error) {
    // The reader speaks of offsets and members; say which file they are in.
    if (error instanceof PyzError && !error.message.includes(file)) {
      throw new PyzError(error.code, `"${file}": ${error.message.split('\n  fix: ')[0]}`, { value: file, fix: error.fix, cause: error });
    }
    throw error;
  }
}

async function readPyzInfoUnlabelled(file: string, options: { listFiles?: boolean }): Promise<PyzInfo> {
  const archive = await ZipArchive.open(file);
  try {
    refuseSymbolicLinks(file, archive.entries);
    const environmentEntry = archive.entries.find((entry) => entry.name === ENVIRONMENT_NAME);
    if (!environmentEntry) {
      throw new PyzError('ARCHIVE_INVALID', `"${file}" has no ${ENVIRONMENT_NAME}; it is not a pyz or shiv archive`, { value: file, fix: 'rebuild it with pyz build' });
    }
    let environment: Record<string, unknown>;
    try {
      environment = JSON.parse(Buffer.from(await archive.read(environmentEntry)).toString('utf8')) as Record<string, unknown>;
      if (environment === null || typeof environment !== 'object' || Array.isArray(environment)) throw new Error('not a JSON object');
    } catch (error) {
      if (error instanceof PyzError) throw error;
      throw new PyzError('ARCHIVE_INVALID', `${ENVIRONMENT_NAME} in "${file}" is not valid JSON: ${(error as Error).message}`, { value: file, fix: 'rebuild the archive', cause: error });
    }
    const info: PyzInfo = { path: file, environment, archiveEntries: archive.entries.map(toInfo) };
    if (options.listFiles) {
      const payloadName = typeof environment.payload === 'string' ? environment.payload : null;
      const payloadEntry = payloadName === null ? undefined : archive.entries.find((entry) => entry.name === payloadName);
      if (payloadEntry) {
        const payload = await archive.openNested(payloadEntry);
        try {
          refuseSymbolicLinks(file, payload.entries);
          info.files = payload.entries.map(toInfo);
        } finally {
          await payload.close();
        }
      } else {
        // A shiv archive: files live under site-packages/ in the outer zip.
        info.files = archive.entries.filter((entry) => entry.name.startsWith('site-packages/')).map((entry) => ({ ...toInfo(entry), path: entry.name.slice('site-packages/'.length) }));
      }
    }
    return info;
  } finally {
    await archive.close();
  }
}

/** The text shiv-info prints, followed by the file list when present. */
export function formatPyzInfo(info: PyzInfo): string {
  const lines = ['', `pyz file: ${info.path}`, ''];
  for (const [key, value] of Object.entries(info.environment)) {
    lines.push(`${key}: ${key === 'hashes' ? JSON.stringify(value, Object.keys((value as object) ?? {}).sort(), 2) : String(value)}`);
  }
  if (info.files) {
    lines.push('', `files (${info.files.length}):`);
    for (const file of info.files) {
      lines.push(`${file.mode.toString(8).padStart(4, '0')} ${String(file.size).padStart(10)} ${String(file.compressedSize).padStart(10)} ${file.method === 8 ? 'deflate' : 'stored '} ${file.crc32.toString(16).padStart(8, '0')} ${file.path}`);
    }
  }
  lines.push('');
  return lines.join('\n');
}
