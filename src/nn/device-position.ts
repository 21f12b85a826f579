/**
 * Where a replayed decode step is, kept on the device (models/kv-decode-stepper.ts): a recorded
 * step's launches carry the same uniforms every token, so the step reads its position from these
 * buffers, and advances them itself at its end.
 *
 * - `length`: the tokens cached before the step (every attention layer's KvCache holds as many);
 *   this step's keys go to that position and attention sees length + 1 keys.
 * - `positions`: the RoPE position of each row's new token (models that rotate: Llama), which with
 *   left padding counts real tokens only and so differs per row.
 * - `keyMask`: the padding mask over the KV cache's whole capacity (B, cap), ones past the prompt:
 *   every generated token is real, so it does not change while the cache keeps its capacity.
 */
import type { DeviceName } from '../backend/registry.js';
import { ArgumentError } from '../errors.js';
import { add, tensor, writeSlice } from '../ops/index.js';
import { keep, tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export interface DevicePositionInit {
  /** Tokens consumed so far (the cache's seqlenOffset). */
  length: number;
  /** The capacity of the KV caches (the key mask's width); at least length + 1. */
  capacity: number;
  batchSize: number;
  /** The attention mask of the tokens so far (B, length), null when none was padding. */
  attentionMask: number[][] | null;
  /** The RoPE position of each row's next token, or null for models without RoPE. */
  positions: number[] | null;
  device: DeviceName;
}

export class DevicePosition {
  readonly length: Tensor;
  readonly positions: Tensor | null;
  readonly keyMask: Tensor | null;
  readonly capacity: number;
  private readonly one: Tensor;

  /** Uploads the counters and the mask: call outside a recording. */
  constructor(o: DevicePositionInit) {
    const { length, capacity, batchSize: B, attentionMask, positions, device } = o;
    if (!Number.isInteger(length) || length < 0 || capacity < length + 1) {
      throw new ArgumentError(`DevicePosition: needs 0 <= length < capacity, got length ${length}, capacity ${capacity}`);
    }
    if (attentionMask && (attentionMask.length !== B || attentionMask.some((r) => r.length !== length))) {
      throw new ArgumentError(`DevicePosition: attentionMask must be (${B}, ${length})`);
    }
    if (positions && positions.length !== B) throw new ArgumentError(`DevicePosition: positions must have ${B} entries, got ${positions.length}`);
    this.capacity = capacity;
    this.length = keep(tensor(Int32Array.of(length), [1], { dtype: 'i32', device }));
    this.one = keep(tensor(Int32Array.of(1), [1], { dtype: 'i32', device }));
    this.positions = positions ? keep(tensor(Int32Array.from(positions), [B, 1], { dtype: 'i32', device })) : null;
    if (attentionMask) {
      const m = new Float32Array(B * capacity).fill(1);
      attentionMask.forEach((row, b) => m.set(row, b * capacity));
      this.keyMask = keep(tensor(m, [B, capacity], { device }));
    } else {
      this.keyMask = null;
    }
  }

  /** Device work: one more token cached, each row's next position one further. */
  advance(): void {
    tidy(() => {
      writeSlice(this.length, add(this.length, this.one), 0, 0);
      if (this.positions) writeSlice(this.positions, add(this.positions, this.one), 0, 0);
    });
  }

  dispose(): void {
    for (const t of [this.length, this.one, this.positions, this.keyMask]) t?.dispose();
  }
}
