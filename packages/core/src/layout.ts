/**
 * Names inside a .pyz, shared by the builder, `pyz info` and the Python bootstrap
 * (packages/core/python/_pyz_bootstrap reads the same names).
 *
 * The outer zip holds only a handful of entries, so Python's zipimport (which parses the whole
 * central directory on every start) and the bootstrap stay fast whatever the application size.
 * Every dependency file lives in PAYLOAD_NAME, a stored (method 0) nested zip that only the
 * first run reads, with its own central directory (ZIP64 when it needs it: Python's zipfile reads
 * ZIP64 on every supported version, zipimport only from 3.13).
 */
export const MAIN_NAME = '__main__.py';
export const BOOTSTRAP_PACKAGE = '_pyz_bootstrap';
export const ENVIRONMENT_NAME = 'environment.json';
export const PAYLOAD_NAME = '_pyz_site_packages.zip';
