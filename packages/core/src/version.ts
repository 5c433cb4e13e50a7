/** pyz's own version, written to environment.json as `pyz_version`. */
export const PYZ_VERSION = '0.1.0';
/**
 * Written as `shiv_version`: the shiv release whose environment.json format and runtime
 * variables these archives follow, so tools that read shiv archives (shiv-info) accept ours.
 */
export const SHIV_FORMAT_VERSION = '1.0.8';
