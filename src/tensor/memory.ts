/**
 * Explicit memory management: every tensor is counted while alive, and `tidy(fn)` disposes every
 * tensor created inside `fn` except those it returns (and those marked with `keep`). The live
 * count is what the leak tests watch.
 */
import type { Tensor } from './tensor.js';

const live = new Set<Tensor>();
const scopes: Set<Tensor>[] = [];

export function track(t: Tensor): void {
  live.add(t);
  const scope = scopes[scopes.length - 1];
  if (scope) scope.add(t);
}

export function untrack(t: Tensor): void {
  live.delete(t);
}

/** Number of tensors not yet disposed. */
export function liveTensorCount(): number {
  return live.size;
}

/** Removes `t` from the enclosing tidy scopes so it outlives them. */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Runs `fn` and disposes every tensor it created, except the tensors found in its result (a
 * tensor, or arrays/objects of tensors, searched one level deep per nesting). Synchronous only:
 * ops are synchronous, only reading values back is async.
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  if (result instanceof Promise) throw new Error('tidy(fn): fn must be synchronous (it returned a Promise)');
  const kept = new Set<Tensor>();
  collectTensors(result, kept, 0);
  for (const t of scope) {
    if (!kept.has(t)) t.dispose();
  }
  // Returned tensors now belong to the enclosing scope, if any.
  const outer = scopes[scopes.length - 1];
  if (outer) for (const t of kept) if (scope.has(t)) outer.add(t);
  return result;
}

function collectTensors(x: unknown, out: Set<Tensor>, depth: number): void {
  if (x === null || typeof x !== 'object' || depth > 4) return;
  if (isTensor(x)) {
    out.add(x);
    return;
  }
  if (Array.isArray(x)) {
    for (const v of x) collectTensors(v, out, depth + 1);
    return;
  }
  if (Object.getPrototypeOf(x) === Object.prototype) for (const v of Object.values(x)) collectTensors(v, out, depth + 1);
}

function isTensor(x: object): x is Tensor {
  return 'ref' in x && 'shape' in x && 'dispose' in x && typeof (x as Tensor).dispose === 'function';
}

/** The tensors found in `x` (a tensor, array or plain object of them, as tidy searches results). */
export function tensorsIn(x: unknown): Set<Tensor> {
  const found = new Set<Tensor>();
  collectTensors(x, found, 0);
  return found;
}

/** Disposes every tensor found in `x` (a tensor, array or plain object of them). */
export function dispose(x: unknown): void {
  const found = new Set<Tensor>();
  collectTensors(x, found, 0);
  for (const t of found) t.dispose();
}
