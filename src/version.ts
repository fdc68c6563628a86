/** Kept equal to package.json's version (checked by test/contract/openapi.test.ts). */
export const VERSION = '0.1.0';
