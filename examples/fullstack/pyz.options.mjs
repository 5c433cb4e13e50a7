// The pyz options of the example, shared by vite.config.ts, rollup.config.mjs and esbuild.mjs
// (and by the plugin tests), so that every bundler builds the same application.
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The example's directory: relative paths below are resolved against it. */
export const root = dirname(fileURLToPath(import.meta.url));

/** Where each bundler writes the frontend (`myapp/static` inside the archive). */
export const webOutDir = 'dist/web';

/** @type {import('@pyz/vite-plugin').PyzPluginOptions} */
export const pyzOptions = {
  cwd: root,
  output: 'dist/app.pyz',
  entryPoint: 'myapp.serve:main',
  // `pip install --target <staging> -r requirements.txt .` — Flask, gunicorn and myapp itself.
  pipArgs: ['-r', 'requirements.txt', '.'],
  assetsPath: 'myapp/static',
};
