// esbuild options for the example frontend: src/main.ts → assets/index-[hash].js and
// assets/index-[hash].css, plus index.html and public/ — the same files `vite build` writes.
// The html step is a plugin registered before pyz, so its onEnd runs first.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { publicFiles, renderIndexHtml } from './html.mjs';
import { root as exampleRoot, webOutDir } from '../pyz.options.mjs';

function htmlPlugin(root, outDir) {
  return {
    name: 'example-html',
    setup(build) {
      build.onEnd((result) => {
        if (result.errors.length > 0) return;
        const [script, output] = Object.entries(result.metafile.outputs).find(([file, entry]) => entry.entryPoint !== undefined && file.endsWith('.js'));
        const extra = [['index.html', renderIndexHtml(root, { script: path.relative(outDir, path.resolve(root, script)), stylesheet: output.cssBundle && path.relative(outDir, path.resolve(root, output.cssBundle)) })], ...publicFiles(root)];
        for (const [fileName, source] of extra) {
          const target = path.join(outDir, fileName);
          const contents = typeof source === 'string' ? new TextEncoder().encode(source) : new Uint8Array(source);
          if (build.initialOptions.write === false) {
            result.outputFiles.push({ path: target, contents, hash: '', get text() { return new TextDecoder().decode(contents); } });
          } else {
            mkdirSync(path.dirname(target), { recursive: true });
            writeFileSync(target, contents);
          }
        }
      });
    },
  };
}

/** esbuild options building `root` (the example, or a copy of it) into `root/dist/web`. */
export function esbuildOptions(plugins, { root = exampleRoot, ...overrides } = {}) {
  const outDir = path.join(root, webOutDir);
  return {
    absWorkingDir: root,
    entryPoints: { index: 'src/main.ts' },
    bundle: true,
    format: 'esm',
    target: 'es2022',
    outdir: outDir,
    entryNames: 'assets/[name]-[hash]',
    assetNames: 'assets/[name]-[hash]',
    metafile: true,
    logLevel: 'warning',
    ...overrides,
    plugins: [htmlPlugin(root, outDir), ...plugins],
  };
}
