import { createRequire } from 'node:module';

/** Read at run time, from `src/` and `dist/` alike, so the manifest always names the installed version. */
export const ARCHIVER_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
