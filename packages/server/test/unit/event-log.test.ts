import { ServerEvents } from '../../src/events.js';
import { ServerLogger, logServerEvents, memorySink } from '../../src/logging/index.js';

describe('server log of handler failures', () => {
  const failure = { model: 'm', version: '1', workerId: 'w1', requestIds: ['r1'], code: 'HandlerError', stack: 'Error: boom\n    at handle (h.ts:1:1)' };

  it('logs a 5xx with the handler stack, a 4xx on one line without it', async () => {
    const sink = memorySink();
    const events = new ServerEvents();
    logServerEvents(events, new ServerLogger(sink));
    events.emit('handler.failed', { ...failure, status: 500, message: 'boom' });
    events.emit('handler.failed', { ...failure, code: 'InvalidInput', status: 400, message: 'not an image' });
    const lines = sink.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 'error', status: 500, stack: failure.stack });
    expect(lines[1]).toMatchObject({ level: 'warn', status: 400, requestIds: ['r1'] });
    expect(lines[1]).not.toHaveProperty('stack');
    expect(sink.lines[1]).not.toContain('\n');
  });
});
