/**
 * The README's two commands, as a newcomer runs them: CI runs exactly the test command (checked
 * against .ci/run; CI itself runs it on a clean checkout), and the main-job command, run here in
 * a clean clone, builds the example into a .pyz and starts it answering HTTP.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './helpers/network.js';
import { afterAll, describe, expect, it } from 'vitest';

const repository = path.resolve(__dirname, '../../..');
const readme = readFileSync(path.join(repository, 'README.md'), 'utf8');
const workspace = mkdtempSync(path.join(os.tmpdir(), 'pyz-readme-'));
afterAll(() => rmSync(workspace, { recursive: true, force: true }));

/** The shell commands of the Quick start section, in order. */
function quickStartCommands(): string[] {
  const section = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('\n## ', readme.indexOf('## Quick start') + 5));
  return [...section.matchAll(/```sh\n([^\n]+)\n```/g)].map((match) => match[1]!.trim());
}


describe("the README's two commands", () => {
  it('are there: one runs the main job, one runs the tests, and .ci/run runs exactly the latter', () => {
    const commands = quickStartCommands();
    expect(commands).toHaveLength(2);
    expect(commands[0]).toMatch(/npm run demo$/);
    expect(commands[1]).toMatch(/npm test$/);
    const ciScript = readFileSync(path.join(repository, '.ci/run'), 'utf8').trim().split('\n');
    expect(ciScript.at(-1)).toBe(commands[1]);
  });

  it('the main-job command, in a clean clone, builds the example .pyz and it answers HTTP', async () => {
    const [mainJob] = quickStartCommands();
    const clone = path.join(workspace, 'clone');
    const cloned = spawnSync('git', ['clone', '--quiet', repository, clone], { encoding: 'utf8' });
    expect(cloned.status, cloned.stderr).toBe(0);
    const port = await freePort();
    const job = spawn('bash', ['-c', mainJob!], {
      cwd: clone,
      detached: true,
      env: { ...process.env, PORT: String(port), PIP_RETRIES: '0', SHIV_ROOT: path.join(workspace, 'shiv') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    job.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    job.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited = false;
    job.once('exit', () => (exited = true));
    try {
      let page = '';
      let api: unknown = null;
      const deadline = Date.now() + 14 * 60_000;
      while (Date.now() < deadline && !exited && api === null) {
        try {
          page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
          api = await (await fetch(`http://127.0.0.1:${port}/api/greeting`)).json();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      }
      expect(exited, output.slice(-4000)).toBe(false);
      expect(page, output.slice(-4000)).toMatch(/<script[^>]+src="[^"]*assets\/[^"]+\.js"/);
      expect(api, output.slice(-4000)).not.toBeNull();
    } finally {
      if (!exited) process.kill(-job.pid!, 'SIGTERM');
      await new Promise((resolve) => (exited ? resolve(null) : job.once('exit', resolve)));
    }
  }, 900_000);
});
