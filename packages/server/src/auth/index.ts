export { generateKey, generateKeys, keysMatch, writeKeyFile, removeKeyFile, type ApiKeys } from './keys.js';
export { isLoopbackHost, tokenAuthRequired, type TokenAuthSettings } from './policy.js';
export { bearerMatches, tokenAuthHook, type AuthHookOptions } from './hook.js';
export { installTokenAuth } from './install.js';
export { readSharedKeys } from './shared-keys.js';
