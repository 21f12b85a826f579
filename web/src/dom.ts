/** Small DOM helpers shared by the panels. */
import type { DeviceRequest, DeviceUsed } from './protocol.js';
import { StoppedError } from './client.js';

export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** A number input's value; NaN and out-of-range values are refused with the field's label. */
export function numberIn(id: string, o: { min?: number; max?: number; integer?: boolean } = {}): number {
  const input = $<HTMLInputElement>(id);
  const v = input.valueAsNumber;
  const name = input.closest('label')?.textContent?.trim() || id;
  if (!Number.isFinite(v)) throw new Error(`${name}: expected a number`);
  if (o.integer && !Number.isInteger(v)) throw new Error(`${name}: expected a whole number, got ${v}`);
  if (o.min !== undefined && v < o.min) throw new Error(`${name}: at least ${o.min}, got ${v}`);
  if (o.max !== undefined && v > o.max) throw new Error(`${name}: at most ${o.max}, got ${v}`);
  return v;
}

export function deviceRequest(): DeviceRequest {
  return $<HTMLSelectElement>('device').value as DeviceRequest;
}

/** A panel's status line: data-state (idle, running, done, error) is what tests wait on. */
export class Status {
  constructor(private readonly el: HTMLElement, private readonly deviceEl?: HTMLElement) {}

  running(text: string): void {
    this.el.dataset['state'] = 'running';
    this.el.textContent = text;
  }

  text(text: string): void {
    this.el.textContent = text;
  }

  device(used: DeviceUsed): void {
    if (!this.deviceEl) return;
    this.deviceEl.textContent = `ran on ${used.description}`;
    this.deviceEl.dataset['device'] = used.device;
  }

  done(text: string): void {
    this.el.dataset['state'] = 'done';
    this.el.textContent = text;
  }

  fail(e: unknown): void {
    this.el.dataset['state'] = e instanceof StoppedError ? 'stopped' : 'error';
    this.el.textContent = e instanceof StoppedError ? 'stopped' : `error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
