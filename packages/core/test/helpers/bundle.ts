import { build } from 'esbuild';

/**
 * Bundles a TypeScript entry file (and the sources it imports) into one ESM file that plain
 * `node` can run — for tests that need a child process (a different TZ, a SIGKILL) while Node 20
 * cannot run `.ts` files itself.
 */
export async function bundleForNode(entryFile: string, outputFile: string): Promise<string> {
  await build({ entryPoints: [entryFile], outfile: outputFile, bundle: true, platform: 'node', format: 'esm', target: 'node20', logLevel: 'error' });
  return outputFile;
}
