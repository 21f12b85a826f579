/**
 * Cross-entropy over rows of logits, fused (never materialising log-softmax), and its gradient:
 *   loss_r = logsumexp(x_r) − x_r[label_r];   dloss_r/dx_r = softmax(x_r) − onehot(label_r)
 * Rows whose label is `ignoreIndex` contribute 0 and get a 0 gradient (HF's -100).
 */
export function crossEntropyRows(x: Float32Array, V: number, labels: Int32Array, ignoreIndex: number, out: Float32Array): void {
  for (let r = 0; r < labels.length; r++) {
    const lab = labels[r]!;
    if (lab === ignoreIndex) {
      out[r] = 0;
      continue;
    }
    if (lab < 0 || lab >= V) {
      out[r] = NaN; // a label outside the vocabulary: no loss, and not another row's logit
      continue;
    }
    const o = r * V;
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, x[o + i]!);
    let s = 0;
    for (let i = 0; i < V; i++) s += Math.exp(x[o + i]! - m);
    out[r] = m + Math.log(s) - x[o + lab]!;
  }
}

export function crossEntropyRowsBackward(x: Float32Array, V: number, labels: Int32Array, ignoreIndex: number, g: Float32Array, dx: Float32Array): void {
  for (let r = 0; r < labels.length; r++) {
    const lab = labels[r]!;
    const o = r * V;
    if (lab === ignoreIndex) {
      dx.fill(0, o, o + V);
      continue;
    }
    if (lab < 0 || lab >= V) {
      dx.fill(NaN, o, o + V); // as the forward's NaN: never another row's gradient
      continue;
    }
    let m = -Infinity;
    for (let i = 0; i < V; i++) m = Math.max(m, x[o + i]!);
    // The exponentials are kept in dx between the two passes (one exp per logit, not two).
    let s = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp(x[o + i]! - m);
      dx[o + i] = e;
      s += e;
    }
    const gr = g[r]!;
    for (let i = 0; i < V; i++) dx[o + i] = (gr * dx[o + i]!) / s;
    dx[o + lab] = dx[o + lab]! - gr;
  }
}

/** dTable[ids[i]] += g[i] (rows of width H). */
export function embeddingBackwardKernel(ids: Int32Array, g: Float32Array, H: number, dTable: Float32Array): void {
  for (let i = 0; i < ids.length; i++) {
    const row = ids[i]! * H;
    for (let h = 0; h < H; h++) dTable[row + h] = dTable[row + h]! + g[i * H + h]!;
  }
}
