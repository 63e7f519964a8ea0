import { readFileSync } from 'node:fs';

/**
 * What the server calls itself, everywhere it names itself: v2 server metadata, the OpenAPI
 * document, and `context.systemProperties.serverName` in handlers. The command is `model-server`.
 */
export const SERVER_NAME = 'nodeserve';

/** The package's version; `package.json` sits one level above both `src/` and `dist/`. */
export const SERVER_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
