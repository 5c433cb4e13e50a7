/**
 * Test helpers shared by every package: independent readers for archives pyz writes (CPython's
 * zipfile on several versions, Info-ZIP unzip, 7-Zip, a second deflate decoder), temporary
 * directories, and bundling TypeScript for child processes.
 */
export * from './archive-checks.js';
export * from './python.js';
export * from './temporary.js';
export * from './bundle.js';
export * from './verify.js';
export * from './backends.js';
export * from './network.js';
