/**
 * A bounded FIFO. `push` refuses at capacity instead of blocking, so a full model sheds load at once
 * (503) rather than holding sockets open. Removal from the head is O(1) amortised.
 */
export class BoundedQueue<T> {
  /** Slots before `head` were taken: they hold `undefined`, never the item handed out. */
  private items: Array<T | undefined> = [];
  private head = 0;

  constructor(private readonly capacity: number) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get limit(): number {
    return this.capacity;
  }

  /** The item `index` places from the head, without removing it. */
  peek(index = 0): T | undefined {
    return index < this.length ? this.items[this.head + index] : undefined;
  }

  push(item: T): boolean {
    if (this.length >= this.capacity) return false;
    this.items.push(item);
    return true;
  }

  /** Puts items back at the head, in order, even past capacity: they were already accepted once. */
  unshift(items: readonly T[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
  }

  /** Removes and returns up to `n` items from the head. */
  take(n: number): T[] {
    const end = Math.min(this.items.length, this.head + n);
    const out = this.items.slice(this.head, end) as T[];
    // A taken slot left as it was keeps its job alive until the next compaction, up to 1024 jobs,
    // each with its request body and (through its promise) its answer: ~100 MiB under the benchmark.
    this.items.fill(undefined, this.head, end);
    this.head = end;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  takeAll(): T[] {
    return this.take(this.length);
  }
}
