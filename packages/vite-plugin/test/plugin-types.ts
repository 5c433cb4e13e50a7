// Compile-time check, run by types.test.ts through tsc: the plugin object is a Vite 8, Vite 7
// and Rollup 4 plugin, and its options are typed.
import type { Plugin as VitePlugin, UserConfig } from 'vite';
import type { Plugin as Vite7Plugin, UserConfig as Vite7UserConfig } from 'vite7';
import type { Plugin as RollupPlugin, RollupOptions } from 'rollup';
import { pyz } from '../src/index.js';

const plugin = pyz({ output: 'x.pyz', sitePackages: ['.'], assetsPath: 'a/static' });
export const vite8: VitePlugin = plugin;
export const vite7: Vite7Plugin = plugin;
export const rollupPlugin: RollupPlugin = plugin;
export const config: UserConfig = { plugins: [pyz({ output: 'x.pyz', assetsPath: 'a' })] };
export const config7: Vite7UserConfig = { plugins: [pyz({ output: 'x.pyz', assetsPath: 'a', environment: 'ssr' })] };
export const rollupConfig: RollupOptions = { plugins: [pyz({ output: 'x.pyz', assetsPath: 'a' })] };
// @ts-expect-error assetsPath is required
export const missingAssetsPath: RollupPlugin = pyz({ output: 'x.pyz' });
// @ts-expect-error level is a number or 'max'
export const badLevel: RollupPlugin = pyz({ output: 'x.pyz', assetsPath: 'a', level: 'fast' });
