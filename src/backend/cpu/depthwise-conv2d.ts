/**
 * Depthwise 2-D convolution, channels-last, 'same' zero padding P = (K-1)/2 (K odd), stride 1:
 *   out[b,h,w,c] = bias[c] + Σ_{i,j<K} wt[c,i,j] · x[b, h+i-P, w+j-P, c]   (zero outside the image)
 * over x (B, H, W, C) with wt (C, K, K) (PyTorch's Conv2d(C, C, K, padding=P, groups=C) weight
 * (C, 1, K, K) squeezed). Backward, with g the output gradient:
 *   dx[b,y,x,c] = Σ_{i,j} g[b, y-i+P, x-j+P, c] · wt[c,i,j]   (a gather: the forward read in reverse)
 *   dw[c,i,j]   = Σ_{b,h,w} g[b,h,w,c] · x[b, h+i-P, w+j-P, c];   dbias[c] = Σ_{b,h,w} g[b,h,w,c]
 */

export interface Conv2dDims {
  B: number;
  H: number;
  W: number;
  C: number;
  K: number;
}

/**
 * Walks every output position (b, h, w): `position(o)` with o the offset of its C channels, then
 * `tap(o, src, i, j)` for each tap (i, j) that reads inside the image, src the offset of the input
 * it reads. The forward and the backward are this walk with different sums.
 */
function forEachTap(d: Conv2dDims, position: (o: number) => void, tap: (o: number, src: number, i: number, j: number) => void): void {
  const { B, H, W, C, K } = d;
  const P = (K - 1) / 2;
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let w = 0; w < W; w++) {
        const o = ((b * H + h) * W + w) * C;
        position(o);
        for (let i = 0; i < K; i++) {
          const y = h + i - P;
          if (y < 0 || y >= H) continue;
          for (let j = 0; j < K; j++) {
            const xx = w + j - P;
            if (xx < 0 || xx >= W) continue;
            tap(o, ((b * H + y) * W + xx) * C, i, j);
          }
        }
      }
    }
  }
}

export function depthwiseConv2dKernel(
  x: Float32Array, // (B, H, W, C)
  wt: Float32Array, // (C, K, K)
  bias: Float32Array | null, // (C)
  d: Conv2dDims,
  out: Float32Array, // (B, H, W, C)
): void {
  const { C, K } = d;
  forEachTap(
    d,
    (o) => {
      for (let c = 0; c < C; c++) out[o + c] = bias ? bias[c]! : 0;
    },
    (o, src, i, j) => {
      for (let c = 0; c < C; c++) out[o + c] = out[o + c]! + wt[(c * K + i) * K + j]! * x[src + c]!;
    },
  );
}

export function depthwiseConv2dBackwardKernel(
  x: Float32Array, // (B, H, W, C)
  wt: Float32Array, // (C, K, K)
  d: Conv2dDims,
  g: Float32Array, // (B, H, W, C)
): { dx: Float32Array; dw: Float32Array; dbias: Float32Array } {
  const { B, H, W, C, K } = d;
  const dx = new Float32Array(B * H * W * C);
  const dw = new Float64Array(C * K * K);
  const dbias = new Float64Array(C);
  // Scatter form of both sums: each output position adds its gradient to the inputs it read.
  forEachTap(
    d,
    (o) => {
      for (let c = 0; c < C; c++) dbias[c] = dbias[c]! + g[o + c]!;
    },
    (o, src, i, j) => {
      for (let c = 0; c < C; c++) {
        const k = (c * K + i) * K + j;
        dw[k] = dw[k]! + g[o + c]! * x[src + c]!;
        dx[src + c] = dx[src + c]! + g[o + c]! * wt[k]!;
      }
    },
  );
  return { dx, dw: Float32Array.from(dw), dbias: Float32Array.from(dbias) };
}
