// `node examples/fullstack/esbuild.mjs [--watch]`: the same app as vite.config.ts, with esbuild.
import * as esbuild from 'esbuild';
import { pyz } from '@pyz/esbuild-plugin';
import { esbuildOptions } from './bundlers/esbuild.mjs';
import { pyzOptions } from './pyz.options.mjs';

const options = esbuildOptions([pyz(pyzOptions)], { logLevel: 'info' });
if (process.argv.includes('--watch')) {
  const context = await esbuild.context(options);
  await context.watch();
} else {
  await esbuild.build(options);
}
