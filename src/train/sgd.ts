/** SGD with momentum and (decoupled) weight decay: b ← μb + g;  p ← p·(1 − lr·λ) − lr·b. */
import { noGrad } from '../autograd/tape.js';
import type { Parameter } from '../nn/module.js';
import { add, scale, sub } from '../ops/elementwise.js';
import { keep, tidy } from '../tensor/memory.js';
import type { Tensor } from '../tensor/tensor.js';

export class SGD {
  private readonly buf = new Map<Parameter, Tensor>();
  constructor(
    private readonly params: Parameter[],
    public lr = 1e-2,
    private readonly momentum = 0,
    private readonly weightDecay = 0,
  ) {}

  update(): void {
    noGrad(() => {
      for (const p of this.params) {
        const g = p.grad;
        if (!g) continue;
        const prev = this.buf.get(p);
        const [b, next] = tidy(() => {
          const b = this.momentum && prev ? add(scale(prev, this.momentum), g) : scale(g, 1);
          const decayed = this.weightDecay ? scale(p.value, 1 - this.lr * this.weightDecay) : p.value;
          return [b, sub(decayed, scale(b, this.lr))];
        });
        prev?.dispose();
        if (this.momentum) this.buf.set(p, keep(b));
        else b.dispose();
        p.set(next);
      }
    });
  }

  dispose(): void {
    for (const t of this.buf.values()) t.dispose();
    this.buf.clear();
  }
}
