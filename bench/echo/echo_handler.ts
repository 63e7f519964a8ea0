import type { Context, HandlerResult, RequestInput } from '@nodeserve/handler-sdk';

/**
 * Answers every request with its own body and does nothing else: served by model-server, it measures
 * the request path alone (HTTP, queue, batching, worker IPC) against a bare node:http echo.
 */
export function handle(data: RequestInput[], _context: Context): HandlerResult[] {
  return data.map((request) => request.body);
}
