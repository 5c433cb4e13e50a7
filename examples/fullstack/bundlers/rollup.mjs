// Rollup 4 options for the example frontend: TypeScript through esbuild's transform, the
// imported CSS emitted as assets/index-[hash].css, index.html and public/ emitted as assets —
// the same files `vite build` writes.
import path from 'node:path';
import { transform } from 'esbuild';
import { publicFiles, renderIndexHtml } from './html.mjs';
import { root as exampleRoot, webOutDir } from '../pyz.options.mjs';

function frontendPlugin(root) {
  let styles = new Map();
  return {
    name: 'example-frontend',
    buildStart() {
      styles = new Map();
    },
    async transform(code, id) {
      if (id.endsWith('.css')) {
        styles.set(id, code);
        return { code: 'export {};', map: null };
      }
      if (id.endsWith('.ts')) {
        const result = await transform(code, { loader: 'ts', sourcefile: id, target: 'es2022' });
        return { code: result.code, map: null };
      }
      return null;
    },
    generateBundle(_options, bundle) {
      const entry = Object.values(bundle).find((file) => file.type === 'chunk' && file.isEntry);
      let stylesheet;
      if (styles.size > 0) {
        const reference = this.emitFile({ type: 'asset', name: 'index.css', source: [...styles.values()].join('\n') });
        stylesheet = this.getFileName(reference);
      }
      this.emitFile({ type: 'asset', fileName: 'index.html', source: renderIndexHtml(root, { script: entry.fileName, stylesheet }) });
      for (const [fileName, source] of publicFiles(root)) this.emitFile({ type: 'asset', fileName, source });
    },
  };
}

/** Rollup options building `root` (the example, or a copy of it) into `root/dist/web`. */
export function rollupOptions(plugins, { root = exampleRoot } = {}) {
  return {
    input: { index: path.join(root, 'src/main.ts') },
    plugins: [frontendPlugin(root), ...plugins],
    output: {
      dir: path.join(root, webOutDir),
      format: 'es',
      entryFileNames: 'assets/[name]-[hash].js',
      assetFileNames: 'assets/[name]-[hash][extname]',
    },
  };
}
