import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A fresh directory under os.tmpdir(); `remove()` deletes it and everything in it. */
export interface TemporaryDirectory {
  readonly path: string;
  /** `path.join(this.path, ...parts)` */
  join(...parts: string[]): string;
  remove(): Promise<void>;
}

export async function makeTemporaryDirectory(prefix = 'pyz-test-'): Promise<TemporaryDirectory> {
  const directory = await mkdtemp(path.join(tmpdir(), prefix));
  return {
    path: directory,
    join: (...parts) => path.join(directory, ...parts),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}
