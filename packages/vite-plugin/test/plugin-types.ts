// Compile-time check (tsc, not vitest): the plugin object is a Vite 8, Vite 7 and Rollup 4 plugin.
import type { Plugin as VitePlugin, UserConfig } from 'vite';
import type { Plugin as Vite7Plugin } from 'vite7';
import type { Plugin as RollupPlugin, RollupOptions } from 'rollup';
import { pyz } from '../src/index.js';
const plugin = pyz({ output: 'x.pyz', sitePackages: ['.'], assetsPath: 'a/static' });
export const vite8: VitePlugin = plugin;
export const vite7: Vite7Plugin = plugin;
export const rollupPlugin: RollupPlugin = plugin;
export const config: UserConfig = { plugins: [pyz({ output: 'x.pyz', assetsPath: 'a' })] };
export const rollupConfig: RollupOptions = { plugins: [pyz({ output: 'x.pyz', assetsPath: 'a' })] };
