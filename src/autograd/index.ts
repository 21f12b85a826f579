/** Autograd: the tape, backward(), noGrad, gradient checks. */
export { backward, sumToShape } from './backward.js';
export { noGrad, requiresGrad, markLeaf, releaseGraph, type GradSlot } from './tape.js';
export { gradcheck, type GradcheckResult } from './gradcheck.js';
