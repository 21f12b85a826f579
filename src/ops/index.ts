/** The ops users and models call. Models call these only, never a backend or a typed array. */
export * from './create.js';
export * from './elementwise.js';
export * from './matmul.js';
export * from './shape.js';
export * from './reduce.js';
export * from './norm.js';
export * from './conv.js';
export * from './scan.js';
export * from './random.js';
export * from './mamba-step.js';
export * from './loss.js';
export * from './rows.js';
export * from './attention.js';
export * from './conv2d.js';
export * from './rope.js';
export * from './decode-step.js';
export * from './sample-tokens.js';
