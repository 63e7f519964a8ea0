import type { FastifyInstance } from 'fastify';

/**
 * `Expect: 100-continue` (curl -T sends it) is answered by the server, not by Node's default: a body
 * whose declared Content-Length exceeds `max_request_size` gets no `100 Continue`, so the client never
 * uploads it, and the request goes on to the routes, which answer 413 from the length alone (in the
 * usual error shape, access-logged and counted). Node closes such a connection after the answer, as the
 * body it announced was never read.
 */
export function answerExpectContinue(app: FastifyInstance, maxRequestSize: number): void {
  app.server.on('checkContinue', (request, response) => {
    const declared = Number(request.headers['content-length']);
    if (!(Number.isFinite(declared) && declared > maxRequestSize)) response.writeContinue();
    app.server.emit('request', request, response);
  });
}
