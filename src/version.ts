/** webmtl's version, as in package.json (test/packaging.test.ts keeps the two equal); stored in model bundles. */
export const VERSION = '0.1.0';
