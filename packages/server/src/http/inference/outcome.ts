import type { FastifyReply } from 'fastify';
import type { InferenceOutcome } from '../../models/types.js';
import { encodeJsonOutput } from '../../open-inference/tensors.js';

/** Writes a handler's answer: JSON as JSON, bytes with their content type, tensors as JSON tensors. */
export function sendOutcome(reply: FastifyReply, outcome: InferenceOutcome): FastifyReply {
  switch (outcome.kind) {
    case 'json':
      return reply.type('application/json').send(outcome.body);
    case 'bytes':
      return reply.type(outcome.contentType).send(outcome.body);
    case 'tensors':
      return reply.type('application/json').send({
        outputs: outcome.outputs.map(encodeJsonOutput),
        ...(outcome.parameters === undefined ? {} : { parameters: outcome.parameters }),
      });
  }
}
