import { register } from 'node:module';

/**
 * Module resolution hooks for a worker. An archive's bundle leaves the runtime packages external
 * (onnxruntime-node, sharp, jimp, @nodeserve/handler-sdk) but lives in an extract directory, often under
 * the system's temp dir, where Node's lookup of `node_modules` finds nothing. A bare specifier that
 * fails to resolve from the bundle is resolved again as if imported by the server itself, so the
 * bundle gets the server's installed copies (one onnxruntime, one native sharp per process).
 * The hooks run on Node's loader thread, so they are registered as a module of their own.
 */
const HOOKS = `
let fallbackParent;
const NOT_BARE = /^(?:[./]|[A-Za-z][A-Za-z0-9+.-]*:)/;
export function initialize(data) { fallbackParent = data.fallbackParent; }
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if (error?.code !== 'ERR_MODULE_NOT_FOUND' || NOT_BARE.test(specifier) || context.parentURL === fallbackParent) throw error;
    return nextResolve(specifier, { ...context, parentURL: fallbackParent });
  }
}
`;

/** Makes bare imports that the importing module cannot resolve fall back to `fallbackParent`'s resolution. */
export function registerExternalResolution(fallbackParent: string): void {
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { fallbackParent } });
}
