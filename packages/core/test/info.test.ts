/**
 * `pyz info` refuses archives whose payload could escape an extraction: `..` or absolute names,
 * symbolic-link members, duplicate names (checked here on archives crafted with Python's zipfile).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PyzError } from '../src/errors.js';
import { readPyzInfo } from '../src/info.js';

const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-info-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

const CRAFT = `
import io, json, sys, warnings, zipfile
kind, output = sys.argv[1], sys.argv[2]
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w") as payload:
    warnings.simplefilter("ignore")
    payload.writestr("ok/__init__.py", "")
    if kind == "dotdot":
        payload.writestr("../evil.py", "print('escaped')")
    elif kind == "absolute":
        payload.writestr("/etc/evil.py", "x")
    elif kind == "duplicate":
        payload.writestr("ok/__init__.py", "again")
    elif kind == "symlink":
        info = zipfile.ZipInfo("ok/link.py")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        payload.writestr(info, "/etc/passwd")
with open(output, "wb") as handle:
    handle.write(b"#!/usr/bin/env python3\\n")
    with zipfile.ZipFile(handle, "w") as outer:
        outer.writestr("__main__.py", "")
        outer.writestr("environment.json", json.dumps({"build_id": "x", "payload": "p.zip"}))
        outer.writestr(zipfile.ZipInfo("p.zip"), inner.getvalue(), compress_type=zipfile.ZIP_STORED)
`;

describe('pyz info on unsafe archives', () => {
  it.each(['dotdot', 'absolute', 'duplicate', 'symlink'])('refuses a payload with a %s member', async (kind) => {
    const file = path.join(workspace, `${kind}.pyz`);
    execFileSync('python3', ['-c', CRAFT, kind, file]);
    const error = await readPyzInfo(file, { listFiles: true }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PyzError);
    expect((error as PyzError).code).toBe('ARCHIVE_UNSAFE_MEMBER');
  });

  it('reads a well-formed crafted archive', async () => {
    const file = path.join(workspace, 'fine.pyz');
    execFileSync('python3', ['-c', CRAFT, 'fine', file]);
    const info = await readPyzInfo(file, { listFiles: true });
    expect(info.files!.map((entry) => entry.path)).toEqual(['ok/__init__.py']);
  });
});
