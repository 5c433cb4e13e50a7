// `rollup -c examples/fullstack/rollup.config.mjs`: the same app as vite.config.ts, with Rollup 4.
import { pyz } from '@pyz/vite-plugin';
import { rollupOptions } from './bundlers/rollup.mjs';
import { pyzOptions } from './pyz.options.mjs';

export default rollupOptions([pyz(pyzOptions)]);
