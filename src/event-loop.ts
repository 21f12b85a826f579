/**
 * Letting the event loop run during long CPU work. On the CPU backend every op is synchronous and
 * `await t.data()` resolves at once, so a decoding or training loop only ever awaits microtasks:
 * timers, I/O and other requests never run until it ends (a 10 ms timer fired 0 times during a
 * 2,000-token generation, and concurrent generations ran one after the other). Loops call
 * `maybeYield()` between steps; it hands the thread back through a macrotask once YIELD_EVERY_MS
 * has passed since it last did, so a server stays responsive at a cost of one macrotask per
 * ~20 ms of work, whatever the step time.
 *
 * Platform-neutral: setImmediate where it exists (Node: runs after I/O and expired timers, with no
 * clamping), else a MessageChannel message (browsers: a task with no 4 ms clamp), else
 * setTimeout(0).
 */

import { UnsupportedError } from './errors.js';

/** Work between two yields, at most (plus one step): well under the ~50 ms a timer may wait. */
export const YIELD_EVERY_MS = 20;

/** Runs a callback in a later macrotask. */
export type Schedule = (callback: () => void) => void;

/** What the scheduler looks for on the global object (each may be absent). */
export interface MacrotaskGlobals {
  setImmediate?: (callback: () => void) => unknown;
  MessageChannel?: typeof MessageChannel;
  setTimeout?: (callback: () => void, ms: number) => unknown;
}

/** The best macrotask the platform has; `g` is the global object (other objects in tests). */
export function macrotaskScheduler(g: MacrotaskGlobals = globalThis as MacrotaskGlobals): Schedule {
  const { setImmediate, MessageChannel: Channel, setTimeout } = g;
  if (typeof setImmediate === 'function') return (callback) => void setImmediate(callback);
  if (typeof Channel === 'function') {
    const channel = new Channel();
    const waiting: (() => void)[] = [];
    // Where a listening port keeps the process alive (Node, Deno), it does so only while a
    // callback waits: idle, it must not; waiting, it must (or the message is never delivered).
    const port = channel.port1 as MessagePort & { ref?: () => void; unref?: () => void };
    port.onmessage = () => {
      waiting.shift()?.();
      if (waiting.length === 0) port.unref?.();
    };
    port.unref?.();
    return (callback) => {
      waiting.push(callback);
      port.ref?.();
      channel.port2.postMessage(null);
    };
  }
  if (typeof setTimeout === 'function') return (callback) => void setTimeout(callback, 0);
  throw new UnsupportedError('no macrotask to yield to the event loop with: the platform has neither setImmediate, MessageChannel nor setTimeout');
}

let schedule: Schedule | null = null;

/** Resolves in a later macrotask, after the event loop has run timers and I/O that were due. */
export function yieldToEventLoop(): Promise<void> {
  schedule ??= macrotaskScheduler();
  const run = schedule;
  return new Promise((resolve) => run(resolve));
}

/**
 * A loop's yield point: `await y.maybeYield()` between steps yields once `everyMs` has passed since
 * this yielder was made or last yielded, and otherwise costs a clock read. The clock restarts when
 * the loop resumes, so loops running side by side each get a full slice in turn.
 */
export class EventLoopYielder {
  private last = performance.now();

  constructor(private readonly everyMs = YIELD_EVERY_MS) {}

  async maybeYield(): Promise<void> {
    if (performance.now() - this.last < this.everyMs) return;
    await yieldToEventLoop();
    this.last = performance.now();
  }
}
