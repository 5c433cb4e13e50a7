import { closeSync, openSync, readSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { crc32 } from 'node:zlib';
import { inflateCheck, pythonZipCheck, sevenZipTest, unzipProblems, unzipTest, type PythonZipEntry, type PythonZipReport } from './archive-checks.js';
import { NEWEST_PYTHON, OLDEST_PYTHON, findPython } from './python.js';

export interface VerifyArchiveOptions {
  /** Python versions whose zipfile must accept the archive. @default ["3.8", "3.13"] */
  pythons?: readonly string[];
  /** Read every member: testzip() in Python, unzip/7z tests, two deflate decoders. @default true */
  checkData?: boolean;
  /** Also run Info-ZIP `unzip -t` and `7z t`. @default true */
  externalTools?: boolean;
}

function readRange(file: string, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const descriptor = openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const read = readSync(descriptor, buffer, done, length - done, position + done);
      if (read === 0) throw new Error(`${file} ends before byte ${position + length}`);
      done += read;
    }
  } finally {
    closeSync(descriptor);
  }
  return buffer;
}

/**
 * Where a member's data starts, from its local header (APPNOTE 4.3.7), located by the offset
 * Python reported — independent of pyz's own reader.
 */
export function memberDataOffset(file: string, entry: PythonZipEntry, archiveStart = 0): number {
  const header = readRange(file, archiveStart + entry.headerOffset, 30);
  if (header.readUInt32LE(0) !== 0x04034b50) throw new Error(`no local header at ${archiveStart + entry.headerOffset} for ${entry.name}`);
  return archiveStart + entry.headerOffset + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}

/** The member's bytes as stored, located through Python's listing. */
export function memberRawBytes(file: string, entry: PythonZipEntry, archiveStart = 0): Buffer {
  return readRange(file, memberDataOffset(file, entry, archiveStart), entry.compressedSize);
}

/**
 * Checks an archive with every independent reader: CPython's zipfile on the oldest and newest
 * supported Python (same listing on both, testzip() clean), `unzip -t` (no warnings — in
 * particular no "extra bytes" from a prefix), `7z t`, and each deflate stream decoded by two
 * decoders with size and CRC compared to the listing. Returns Python's listing; throws on any
 * disagreement.
 */
export function verifyArchive(file: string, options: VerifyArchiveOptions = {}): PythonZipReport {
  const checkData = options.checkData ?? true;
  const reports = (options.pythons ?? [OLDEST_PYTHON, NEWEST_PYTHON]).map((version) => pythonZipCheck(file, findPython(version), { checkData }));
  const first = reports[0]!;
  for (const report of reports.slice(1)) {
    if (JSON.stringify(report.entries) !== JSON.stringify(first.entries)) throw new Error(`Python ${first.python} and ${report.python} list ${file} differently`);
  }
  if (options.externalTools ?? true) {
    const unzip = unzipTest(file);
    const problems = unzipProblems(unzip.output);
    if (first.entries.length === 0) {
      // Info-ZIP reports every empty archive (CPython's own too) with this warning and status 1.
      if (!(unzip.status === 1 && problems.length === 1 && /zipfile is empty/.test(problems[0]!))) throw new Error(`unzip -t on empty ${file}:\n${unzip.output}`);
    } else if (unzip.status !== 0 || problems.length > 0) {
      throw new Error(`unzip -t ${file} exited ${unzip.status}:\n${unzip.output}`);
    }
    const sevenZip = sevenZipTest(file);
    // 7-Zip (26.02) warns "The archive is open with offset" for every ZIP64 archive behind a
    // prefix, CPython's included, even with correct absolute offsets (a relative ZIP64 locator
    // makes it fail outright). Only that warning, and only in that case, is tolerated.
    const knownZip64StubWarning = /Characteristics = .*Zip64/.test(sevenZip.output) && /Embedded Stub Size = \d+/.test(sevenZip.output);
    const sevenZipWarnings = sevenZip.output
      .split('\n')
      .filter((line) => /warning/i.test(line) && !(knownZip64StubWarning && /^(WARNING:|Warning: The archive is open with offset|Archives with Warnings: 1)$/.test(line.trim())));
    if (sevenZip.status !== 0 || !/Everything is Ok/.test(sevenZip.output) || sevenZipWarnings.length > 0) {
      throw new Error(`7z t ${file} exited ${sevenZip.status}:\n${sevenZip.output}`);
    }
  }
  if (checkData) {
    for (const entry of first.entries) {
      if (entry.method !== 8) continue;
      const inflated = inflateCheck(memberRawBytes(file, entry));
      if (inflated.length !== entry.size || crc32(inflated) !== entry.crc32) throw new Error(`${entry.name}: deflate stream does not match its size/CRC`);
    }
  }
  return first;
}

/**
 * Checks a zip stored in `member` of `file`: Python opens it in place (as the bootstrap does),
 * then its bytes are copied to `extractTo` and checked like a top-level archive.
 */
export async function verifyNestedArchive(file: string, member: string, extractTo: string, options: VerifyArchiveOptions = {}): Promise<PythonZipReport> {
  const outer = pythonZipCheck(file, findPython(OLDEST_PYTHON), { checkData: false });
  const entry = outer.entries.find((candidate) => candidate.name === member);
  if (entry === undefined) throw new Error(`${file} has no member ${member}`);
  if (entry.method !== 0) throw new Error(`nested archive ${member} is not stored (method ${entry.method})`);
  for (const version of options.pythons ?? [OLDEST_PYTHON, NEWEST_PYTHON]) {
    pythonZipCheck(file, findPython(version), { nested: member, checkData: options.checkData ?? true });
  }
  await writeFile(extractTo, memberRawBytes(file, entry));
  return verifyArchive(extractTo, options);
}
