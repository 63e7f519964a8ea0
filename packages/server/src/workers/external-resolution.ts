import module from 'node:module';

/**
 * Module resolution hooks for a worker. An archive's bundle leaves the runtime packages external
 * (onnxruntime-node, sharp, jimp, @nodeserve/handler-sdk) but lives in an extract directory, often under
 * the system's temp dir, where Node's lookup of `node_modules` finds nothing. A bare specifier that
 * fails to resolve from the bundle is resolved again as if imported by the server itself, so the
 * bundle gets the server's installed copies (one onnxruntime, one native sharp per process).
 *
 * Where Node has `module.registerHooks` (22.15 and later) the hook runs in the worker's own thread.
 * Otherwise it goes through `module.register`, whose hooks run on a loader thread of their own, so they
 * are registered as a module: that thread cost a worker ~40 ms of start-up and ~16 MiB of RSS on
 * Node 22 and 24 (a script registering a pass-through hook either way and importing one module).
 */
const NOT_BARE = /^(?:[./]|[A-Za-z][A-Za-z0-9+.-]*:)/;

const HOOKS = `
let fallbackParent;
const NOT_BARE = ${NOT_BARE.toString()};
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

interface ResolveContext {
  parentURL?: string | undefined;
  [key: string]: unknown;
}
type NextResolve = (specifier: string, context?: ResolveContext) => unknown;
type RegisterHooks = (hooks: { resolve: (specifier: string, context: ResolveContext, nextResolve: NextResolve) => unknown }) => unknown;

/** Makes bare imports that the importing module cannot resolve fall back to `fallbackParent`'s resolution. */
export function registerExternalResolution(fallbackParent: string): void {
  const registerHooks = (module as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (typeof registerHooks === 'function') {
    registerHooks({
      resolve(specifier, context, nextResolve) {
        try {
          return nextResolve(specifier, context);
        } catch (error) {
          const code = (error as { code?: unknown } | null)?.code;
          if (code !== 'ERR_MODULE_NOT_FOUND' || NOT_BARE.test(specifier) || context.parentURL === fallbackParent) throw error;
          return nextResolve(specifier, { ...context, parentURL: fallbackParent });
        }
      },
    });
    return;
  }
  module.register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { fallbackParent } });
}
