/**
 * The Mamba paper's synthetic tasks (§4.1), as batches of (input ids, labels) in HF's causal-LM
 * convention: labels are -100 except where the answer is, and position t is scored on label t+1.
 *
 * - Selective Copying: `memorize` data tokens (ids 1 … V-2) at random positions of a context of
 *   noise tokens (id 0), then `memorize` marker tokens (id V-1) during which the model must emit the
 *   data tokens in order. Content-aware reasoning: the positions vary, so an LTI (convolutional)
 *   model cannot solve it by fixed delays.
 * - Induction Heads: random tokens (ids 1 … V-2) in which a trigger token (id V-1) is followed by a
 *   token X; the sequence ends with the trigger again and the model must recall X (associative
 *   recall). Trained at one length and tested at longer ones.
 */
import { RandomSource } from '../ops/random.js';

export interface TaskBatch {
  ids: number[][];
  labels: number[][];
}

export type SyntheticTask = 'selective-copying' | 'induction-heads';

const randInt = (rng: RandomSource, lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo)); // [lo, hi)

/** Sequences of `length` = context + memorize tokens. */
export function selectiveCopyingBatch(batch: number, length: number, vocab: number, memorize: number, rng: RandomSource): TaskBatch {
  const context = length - memorize;
  if (context < memorize) throw new RangeError(`selective copying: length ${length} leaves fewer than ${memorize} context positions`);
  if (vocab < 3) throw new RangeError('selective copying: the vocabulary needs noise, marker and data tokens (>= 3)');
  const ids: number[][] = [];
  const labels: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const row = new Array<number>(length).fill(0);
    const lab = new Array<number>(length).fill(-100);
    // memorize distinct positions, in increasing order.
    const pos = new Set<number>();
    while (pos.size < memorize) pos.add(randInt(rng, 0, context));
    const data = [...pos].sort((a, c) => a - c).map((p) => {
      const tok = randInt(rng, 1, vocab - 1);
      row[p] = tok;
      return tok;
    });
    for (let i = 0; i < memorize; i++) {
      row[context + i] = vocab - 1;
      // Scored at the position before: the last context token, then each marker but the last.
      lab[context + i] = data[i]!;
    }
    ids.push(row);
    labels.push(lab);
  }
  return { ids, labels };
}

/** Sequences of `length` ending with [trigger, X]; the same pair appears once earlier. */
export function inductionHeadsBatch(batch: number, length: number, vocab: number, rng: RandomSource): TaskBatch {
  if (length < 6) throw new RangeError(`induction heads: length ${length} is too short (>= 6)`);
  if (vocab < 3) throw new RangeError('induction heads: the vocabulary needs a trigger and content tokens (>= 3)');
  const trigger = vocab - 1;
  const ids: number[][] = [];
  const labels: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const row = Array.from({ length }, () => randInt(rng, 1, vocab - 1));
    const x = randInt(rng, 1, vocab - 1);
    const at = randInt(rng, 0, length - 4); // the first [trigger, X], clear of the final pair
    row[at] = trigger;
    row[at + 1] = x;
    row[length - 2] = trigger;
    row[length - 1] = x;
    const lab = new Array<number>(length).fill(-100);
    lab[length - 1] = x; // scored at the final trigger
    ids.push(row);
    labels.push(lab);
  }
  return { ids, labels };
}

export function taskBatch(task: SyntheticTask, batch: number, length: number, vocab: number, memorize: number, rng: RandomSource): TaskBatch {
  return task === 'selective-copying' ? selectiveCopyingBatch(batch, length, vocab, memorize, rng) : inductionHeadsBatch(batch, length, vocab, rng);
}
