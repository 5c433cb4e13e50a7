// FileSink: buffered sequential writes, patches, and the datasyncs it starts in the background
// so that the fsync at the end of a build only waits for the last megabytes.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BACKGROUND_SYNC_BYTES, FileSink } from '../src/zip/file-sink.js';

const workspace = mkdtempSync(join(tmpdir(), 'pyz-file-sink-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** A FileHandle stand-in that records calls; each datasync waits until `release()`. */
function recordingHandle(options: { datasyncError?: Error } = {}) {
  const calls: string[] = [];
  const waiting: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const handle = {
    async write(buffer: Uint8Array, offset: number, length: number) {
      calls.push(`write ${length}`);
      return { bytesWritten: length, buffer };
    },
    datasync() {
      calls.push('datasync');
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      return new Promise<void>((resolve, reject) => {
        waiting.push(() => {
          inFlight--;
          calls.push('datasync done');
          if (options.datasyncError) reject(options.datasyncError);
          else resolve();
        });
      });
    },
    async sync() {
      calls.push('sync');
    },
    async truncate() {
      calls.push('truncate');
    },
  };
  return {
    handle: handle as unknown as FileHandle,
    calls,
    release: () => waiting.splice(0).forEach((done) => done()),
    maxInFlight: () => maxInFlight,
  };
}

describe('FileSink', () => {
  it('writes what it is given, in order, with patches, to a real file', async () => {
    const path = join(workspace, 'real.bin');
    const handle = await open(path, 'w+');
    const sink = new FileSink(handle);
    const chunk = new Uint8Array(3 << 20).map((_value, index) => index % 251);
    await sink.write(Uint8Array.of(1, 2, 3));
    await sink.write(chunk);
    for (let index = 0; index < 4; index++) await sink.write(chunk.subarray(0, 5 << 20 >> 2));
    await sink.patch(1, Uint8Array.of(9));
    const size = await sink.finish();
    await handle.close();
    const written = readFileSync(path);
    expect(size).toBe(3 + chunk.length + 4 * (5 << 20 >> 2));
    expect(written.length).toBe(size);
    expect([...written.subarray(0, 3)]).toEqual([1, 9, 3]);
    expect(written.subarray(3, 3 + chunk.length).equals(chunk)).toBe(true);
    expect(written.subarray(size - (5 << 20 >> 2)).equals(chunk.subarray(0, 5 << 20 >> 2))).toBe(true);
  });

  it('starts a datasync in the background every BACKGROUND_SYNC_BYTES, one at a time, and finish waits for it', async () => {
    const recorded = recordingHandle();
    const sink = new FileSink(recorded.handle);
    const piece = new Uint8Array(2 << 20);
    for (let written = 0; written < 3 * BACKGROUND_SYNC_BYTES; written += piece.length) await sink.write(piece);
    // Writes went on while the first datasync was still running, and no second one started.
    expect(recorded.calls.filter((call) => call === 'datasync')).toEqual(['datasync']);
    expect(recorded.calls.at(-1)).toMatch(/^write /);
    let finished = false;
    const finishing = sink.finish().then((size) => {
      finished = true;
      return size;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(finished).toBe(false); // the background datasync is not done yet
    recorded.release();
    expect(await finishing).toBe(3 * BACKGROUND_SYNC_BYTES);
    expect(recorded.calls.slice(-2)).toEqual(['datasync done', 'sync']);
    expect(recorded.maxInFlight()).toBe(1);
  });

  it('a failed background datasync fails finish with its error (no unhandled rejection)', async () => {
    const error = Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
    const recorded = recordingHandle({ datasyncError: error });
    const sink = new FileSink(recorded.handle);
    const piece = new Uint8Array(4 << 20);
    for (let written = 0; written < BACKGROUND_SYNC_BYTES + piece.length; written += piece.length) await sink.write(piece);
    recorded.release();
    await new Promise((resolve) => setTimeout(resolve, 0));
    await expect(sink.finish()).rejects.toBe(error);
    expect(recorded.calls).not.toContain('sync');
  });

  it('small archives never sync in the background', async () => {
    const recorded = recordingHandle();
    const sink = new FileSink(recorded.handle);
    await sink.write(new Uint8Array(BACKGROUND_SYNC_BYTES - 1));
    expect(await sink.finish()).toBe(BACKGROUND_SYNC_BYTES - 1);
    expect(recorded.calls.filter((call) => call.startsWith('datasync'))).toEqual([]);
    expect(recorded.calls.at(-1)).toBe('sync');
  });
});
