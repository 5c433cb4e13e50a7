import { defineConfig } from 'vite';
import { pyz } from '@pyz/vite-plugin';
import { pyzOptions, root, webOutDir } from './pyz.options.mjs';

// `vite build` writes the frontend to dist/web and then dist/app.pyz, which serves it from
// myapp/static. The .pyz lies outside outDir, so emptyOutDir never deletes it.
export default defineConfig({
  root,
  build: { outDir: webOutDir, emptyOutDir: true },
  plugins: [pyz(pyzOptions)],
});
