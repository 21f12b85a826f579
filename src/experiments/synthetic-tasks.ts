/**
 * The Mamba paper's synthetic tasks (§4.1), as batches of (input ids, targets). `targets[r][t]` is
 * the token that the model's output AT position t must be (-100 where nothing is scored): the
 * prediction for an answer is read at the position whose input cues it, with no HF-style shift.
 *
 * - Selective Copying (S4's copying task with `variable=True`, which the paper follows): `memorize`
 *   data tokens (ids 1 … V-2) at random distinct positions of a context of noise tokens (id 0),
 *   then `memorize` marker tokens (id V-1). The output at the i-th marker must be the i-th data
 *   token: S4 reads its M outputs at the last M positions, i.e. at the markers. The positions vary,
 *   so an LTI (convolutional) model cannot solve it by fixed delays.
 * - Induction Heads: random tokens (ids 1 … V-2) in which a trigger token (id V-1) is followed once
 *   by a token X; the sequence ends with the trigger again (the query) and the output at that last
 *   position must be X (associative recall). Trained at one length and tested at longer ones.
 */
import { RandomSource } from '../ops/random.js';

export interface TaskBatch {
  ids: number[][];
  /** Same shape as ids: the token expected from the output at each position, or -100. */
  targets: number[][];
}

export type SyntheticTask = 'selective-copying' | 'induction-heads';

/** The value of `targets` where nothing is scored (HF's ignore index). */
export const NOT_SCORED = -100;

const randInt = (rng: RandomSource, lo: number, hi: number) => lo + Math.floor(rng.next() * (hi - lo)); // [lo, hi)

/**
 * Sequences of `length` = context + memorize tokens (the paper's 4,096 noise + 16 data + 16 markers
 * is length 4,128 with memorize 16).
 */
export function selectiveCopyingBatch(batch: number, length: number, vocab: number, memorize: number, rng: RandomSource): TaskBatch {
  const context = length - memorize;
  if (context < memorize) throw new RangeError(`selective copying: length ${length} leaves fewer than ${memorize} context positions`);
  if (vocab < 3) throw new RangeError('selective copying: the vocabulary needs noise, marker and data tokens (>= 3)');
  const ids: number[][] = [];
  const targets: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const row = new Array<number>(length).fill(0);
    const tgt = new Array<number>(length).fill(NOT_SCORED);
    // memorize distinct positions, in increasing order (uniform, like S4's randperm(L+M)[:M]).
    const pos = new Set<number>();
    while (pos.size < memorize) pos.add(randInt(rng, 0, context));
    const data = [...pos].sort((a, c) => a - c).map((p) => {
      const tok = randInt(rng, 1, vocab - 1);
      row[p] = tok;
      return tok;
    });
    for (let i = 0; i < memorize; i++) {
      row[context + i] = vocab - 1;
      tgt[context + i] = data[i]!; // read at the i-th marker itself
    }
    ids.push(row);
    targets.push(tgt);
  }
  return { ids, targets };
}

/**
 * Sequences of `length` tokens ending with the trigger (the query); the pair [trigger, X] appears
 * once earlier, with at least one random token between X and the query.
 */
export function inductionHeadsBatch(batch: number, length: number, vocab: number, rng: RandomSource): TaskBatch {
  if (length < 4) throw new RangeError(`induction heads: length ${length} is too short (>= 4)`);
  if (vocab < 3) throw new RangeError('induction heads: the vocabulary needs a trigger and content tokens (>= 3)');
  const trigger = vocab - 1;
  const ids: number[][] = [];
  const targets: number[][] = [];
  for (let b = 0; b < batch; b++) {
    const row = Array.from({ length }, () => randInt(rng, 1, vocab - 1));
    const x = randInt(rng, 1, vocab - 1);
    const at = randInt(rng, 0, length - 3); // the first [trigger, X]: X at most at length - 3
    row[at] = trigger;
    row[at + 1] = x;
    row[length - 1] = trigger;
    const tgt = new Array<number>(length).fill(NOT_SCORED);
    tgt[length - 1] = x; // read at the query trigger
    ids.push(row);
    targets.push(tgt);
  }
  return { ids, targets };
}

/**
 * The targets of next-token training (the loss of H3/Hyena's synthetics code, `safari`, which the
 * Mamba paper's Induction Heads baselines come from): every position is scored against the token
 * after it, and each answer position against its answer, as before. Only the loss changes; accuracy
 * is still read at the answers.
 */
export function nextTokenTargets(b: TaskBatch): number[][] {
  return b.ids.map((row, r) => row.map((_, t) => (b.targets[r]![t] !== NOT_SCORED ? b.targets[r]![t]! : t + 1 < row.length ? row[t + 1]! : NOT_SCORED)));
}

export function taskBatch(task: SyntheticTask, batch: number, length: number, vocab: number, memorize: number, rng: RandomSource): TaskBatch {
  return task === 'selective-copying' ? selectiveCopyingBatch(batch, length, vocab, memorize, rng) : inductionHeadsBatch(batch, length, vocab, rng);
}
