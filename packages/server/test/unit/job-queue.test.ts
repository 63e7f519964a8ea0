import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BoundedQueue } from '../../src/batching/job-queue.js';

// A full garbage collection on demand, without starting jest with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** In its own frame, so that no variable of the test still points at the job once it is handed out. */
function handOutOne(queue: BoundedQueue<{ body: Buffer }>, refs: Array<WeakRef<object>>): void {
  const job = { body: Buffer.alloc(1024) };
  refs.push(new WeakRef(job));
  queue.push(job);
  queue.take(1);
}

describe('BoundedQueue', () => {
  it('hands items out in order and refuses past its capacity', () => {
    const queue = new BoundedQueue<number>(3);
    expect([1, 2, 3, 4].map((n) => queue.push(n))).toEqual([true, true, true, false]);
    expect(queue.take(2)).toEqual([1, 2]);
    queue.unshift([0]);
    expect(queue.takeAll()).toEqual([0, 3]);
    expect(queue.length).toBe(0);
  });

  it('keeps no reference to what it handed out, so a handled job and its body can be collected', async () => {
    const queue = new BoundedQueue<{ body: Buffer }>(1000);
    const handedOut: Array<WeakRef<object>> = [];
    // Fewer than the 1024 taken slots after which the queue compacts its array.
    for (let i = 0; i < 100; i++) handOutOne(queue, handedOut);
    queue.push({ body: Buffer.alloc(1) }); // still in use, still queued
    await new Promise((resolve) => setImmediate(resolve)); // WeakRefs hold their targets until the turn ends
    gc();
    expect(handedOut.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
    expect(queue.length).toBe(1);
  });
});
