import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from '@jest/globals';
import { BoundedQueue } from '../../src/batching/bounded-queue.js';

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
  it('refuses a push at capacity instead of growing, and takes again once there is room', () => {
    const queue = new BoundedQueue<number>(2);
    expect(queue.push(1)).toBe(true);
    expect(queue.push(2)).toBe(true);
    expect(queue.push(3)).toBe(false);
    expect(queue.length).toBe(2);
    expect(queue.limit).toBe(2);
    expect(queue.take(1)).toEqual([1]);
    expect(queue.push(3)).toBe(true);
    expect(queue.takeAll()).toEqual([2, 3]);
  });

  it('takes from the head in arrival order, at most n at a time', () => {
    const queue = new BoundedQueue<number>(10);
    for (let i = 1; i <= 5; i++) queue.push(i);
    expect(queue.take(2)).toEqual([1, 2]);
    expect(queue.take(10)).toEqual([3, 4, 5]);
    expect(queue.take(1)).toEqual([]);
    expect(queue.length).toBe(0);
  });

  it('puts items back at the head, in order, ahead of later ones, even past capacity', () => {
    const queue = new BoundedQueue<string>(3);
    queue.push('a');
    queue.push('b');
    queue.push('c');
    const taken = queue.take(2);
    queue.push('d');
    queue.push('e');
    expect(queue.push('f')).toBe(false);
    queue.unshift(taken);
    expect(queue.length).toBe(5);
    // Put back past capacity, so nothing new is accepted until the queue is below it again.
    expect(queue.push('f')).toBe(false);
    expect(queue.takeAll()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('stays first in, first out across the compaction of a long-running queue', () => {
    const queue = new BoundedQueue<number>(5000);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 700; i++) queue.push(next++);
      for (const item of queue.take(600)) expect(item).toBe(expected++);
    }
    expect(queue.length).toBe(next - expected);
    for (const item of queue.takeAll()) expect(item).toBe(expected++);
    expect(expected).toBe(next);
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
