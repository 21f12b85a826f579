/**
 * Where the synthetic tasks' answers are read. The answer to the i-th marker of Selective Copying is
 * read from the output AT that marker (S4's copying task reads its M outputs at the last M
 * positions), and Induction Heads' answer from the output at the final trigger (the query). The
 * tests build outputs whose correct positions are known and check that the reader and the loss
 * score exactly those, and that a reader one position early (the old, misaligned one) does not.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { answerAccuracy, answerLoss } from '../src/experiments/answer-scoring.js';
import { inductionHeadsBatch, nextTokenTargets, NOT_SCORED, selectiveCopyingBatch, type TaskBatch } from '../src/experiments/synthetic-tasks.js';
import { tensor } from '../src/ops/create.js';
import { RandomSource } from '../src/ops/random.js';
import { parseSyntheticConfig } from '../src/experiments/synthetic-config.js';
import { runSynthetic } from '../src/experiments/run-synthetic.js';
import { availableDevices } from './devices.js';

const V = 16;
const MARKER = V - 1;

/** Logits (B, L, V) that are `height` at token answer(b, t) of each position and 0 elsewhere; no answer: all 0 (argmax = token 0). */
function oneHotLogits(B: number, L: number, answer: (b: number, t: number) => number | null, height = 1): Float32Array {
  const out = new Float32Array(B * L * V);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < L; t++) {
      const a = answer(b, t);
      if (a !== null) out[(b * L + t) * V + a] = height;
    }
  }
  return out;
}

/** The same outputs, each one position later: reading them at t is reading the original at t - 1. */
function readOneEarly(logits: Float32Array, B: number, L: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let b = 0; b < B; b++) out.set(logits.subarray(b * L * V, (b * L + L - 1) * V), (b * L + 1) * V);
  return out;
}

/**
 * A causal oracle of Selective Copying: at position t it sees ids[0..t] only; after k markers it
 * answers the k-th non-noise token. Before the first marker it has no answer.
 */
function copyingOracle(ids: number[]): (t: number) => number | null {
  return (t) => {
    const seen = ids.slice(0, t + 1);
    const markers = seen.filter((x) => x === MARKER).length;
    if (markers === 0) return null;
    return seen.filter((x) => x !== 0 && x !== MARKER)[markers - 1] ?? null;
  };
}

/** A causal oracle of Induction Heads: at a trigger that appeared before, the token that followed it then. */
function inductionOracle(ids: number[]): (t: number) => number | null {
  return (t) => {
    if (ids[t] !== MARKER) return null;
    const first = ids.indexOf(MARKER);
    return first < t ? ids[first + 1]! : null;
  };
}

const accuracy = (logits: Float32Array, b: TaskBatch) => {
  const a = answerAccuracy(logits, [b.ids.length, b.ids[0]!.length, V], b.targets);
  return a.correct / a.total;
};

test('hand-built selective copying: the answer to each marker is read at that marker', () => {
  // context: noise with data 3, 7, 5 at positions 1, 4, 6; then three markers.
  const ids = [[0, 3, 0, 0, 7, 0, 5, 0, MARKER, MARKER, MARKER]];
  const targets = [[...new Array<number>(8).fill(NOT_SCORED), 3, 7, 5]];
  const b: TaskBatch = { ids, targets };
  const L = ids[0]!.length;
  // The right outputs: token data[i] at marker i, and (to catch an early reader) a wrong token at the position before each marker.
  const answers = new Map([[7, 9], [8, 3], [9, 7], [10, 5]]);
  const logits = oneHotLogits(1, L, (_, t) => answers.get(t) ?? null);
  assert.equal(accuracy(logits, b), 1);
  const early = answerAccuracy(readOneEarly(logits, 1, L), [1, L, V], targets);
  assert.deepEqual(early, { correct: 0, total: 3 }); // read one position early: 9, 3, 7 against 3, 7, 5
});

test('hand-built selective copying: the loss is the cross-entropy at the markers, not one position early', async () => {
  const ids = [[0, 3, 0, 7, 0, MARKER, MARKER]];
  const targets = [[NOT_SCORED, NOT_SCORED, NOT_SCORED, NOT_SCORED, NOT_SCORED, 3, 7]];
  const L = ids[0]!.length;
  const at = new Map([[5, 3], [6, 7]]);
  const right = oneHotLogits(1, L, (_, t) => at.get(t) ?? null, 30);
  const loss = async (x: Float32Array) => (await answerLoss(tensor(x, [1, L, V]), targets).data())[0]!;
  assert.ok((await loss(right)) < 1e-6, 'confident right answers at the markers cost ~0');
  // Read one early: the last context position (all 0: ln 16) against data token 1, marker 1 (30 at token 3) against data token 2.
  assert.ok(Math.abs((await loss(readOneEarly(right, 1, L))) - (Math.log(16) + 30) / 2) < 1e-3);
  assert.throws(() => answerLoss(tensor(right, [1, L, V]), [[1, 2]]), /targets: expected 1 rows of 7 entries/);
  assert.throws(() => answerLoss(tensor(right, [1, L, V]), [[...targets[0]!.slice(0, 6), 16]]), /targets\[0\]\[6\] = 16 is neither a token id in \[0, 16\)/);
  assert.throws(() => answerLoss(tensor(right, [1, L, V]), [new Array<number>(L).fill(NOT_SCORED)]), /no scored position/);
});

test('selective copying data: data among noise, markers at the end, targets at the markers in order', () => {
  const B = 16;
  const L = 64;
  const M = 16;
  const b = selectiveCopyingBatch(B, L, V, M, new RandomSource(1));
  const positions = new Set<string>();
  for (let r = 0; r < B; r++) {
    const row = b.ids[r]!;
    const context = row.slice(0, L - M);
    const dataAt = context.flatMap((t, i) => (t !== 0 ? [i] : []));
    assert.equal(dataAt.length, M);
    positions.add(dataAt.join());
    const data = dataAt.map((i) => context[i]!);
    assert.ok(data.every((t) => t >= 1 && t <= V - 2), 'data ids are neither noise nor the marker');
    assert.deepEqual(row.slice(L - M), new Array(M).fill(MARKER));
    assert.deepEqual(b.targets[r]!.slice(L - M), data, 'target at marker i is the i-th data token');
    assert.ok(b.targets[r]!.slice(0, L - M).every((l) => l === NOT_SCORED));
  }
  assert.equal(positions.size, B, 'the data positions vary from row to row');
  assert.throws(() => selectiveCopyingBatch(1, 20, V, 16, new RandomSource(1)), /fewer than 16 context positions/);
});

test('selective copying data: a causal reader is perfect when read at the markers, not one position early', () => {
  const B = 8;
  const L = 48;
  const b = selectiveCopyingBatch(B, L, V, 16, new RandomSource(3));
  const logits = oneHotLogits(B, L, (r, t) => copyingOracle(b.ids[r]!)(t));
  assert.equal(accuracy(logits, b), 1);
  // One position early, the first answer would be due before any marker is seen.
  assert.ok(accuracy(readOneEarly(logits, B, L), b) < 0.2);
});

test('induction heads data: the sequence ends with the query trigger, its answer is what followed the first trigger', () => {
  const B = 16;
  const L = 40;
  const b = inductionHeadsBatch(B, L, V, new RandomSource(2));
  for (let r = 0; r < B; r++) {
    const row = b.ids[r]!;
    const triggers = row.flatMap((t, i) => (t === MARKER ? [i] : []));
    assert.equal(triggers.length, 2);
    assert.equal(triggers[1], L - 1);
    assert.ok(triggers[0]! + 1 <= L - 3, 'at least one token between the answer and the query');
    assert.ok(row.every((t) => t >= 1 && t <= MARKER));
    assert.deepEqual(b.targets[r]!.flatMap((l, i) => (l === NOT_SCORED ? [] : [[i, l]])), [[L - 1, row[triggers[0]! + 1]]]);
  }
  const logits = oneHotLogits(B, L, (r, t) => inductionOracle(b.ids[r]!)(t));
  assert.equal(accuracy(logits, b), 1);
  assert.equal(accuracy(readOneEarly(logits, B, L), b), 0); // the token before the query is not a trigger
  assert.throws(() => inductionHeadsBatch(1, 3, V, new RandomSource(1)), /too short/);
});

test('answerAccuracy checks its inputs', () => {
  assert.throws(() => answerAccuracy(new Float32Array(10), [1, 2, V], [[NOT_SCORED, NOT_SCORED]]), /10 logits do not fill the shape \[1, 2, 16\]/);
  assert.throws(() => answerAccuracy(new Float32Array(32), [2, V], [[NOT_SCORED]]), /shape \(B, L, V\) expected/);
});

test('the answer loss trains alike on every backend (first steps\' losses agree)', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-alignment-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  const losses: Record<string, number[]> = {};
  for (const device of await availableDevices()) {
    const c = parseSyntheticConfig(
      { task: 'selective-copying', model: { hidden_size: 16, num_hidden_layers: 1 }, memorize: 4, trainLength: 16, steps: 3, schedule: 'constant', lr: 0.01, batchSize: 4, evalInterval: 3, testLengths: [16], testBatches: 1, testBatchSize: 4, device, outDir: join(tmp, device) },
      'test',
    );
    losses[device] = [];
    await runSynthetic(c, undefined, { onStep: (_, __, loss) => losses[device]!.push(loss) });
    assert.ok(Math.abs(losses[device]![0]! - Math.log(16)) < 0.5, `${device}: the first loss is near ln 16, got ${losses[device]![0]}`);
  }
  if (losses['webgpu']) losses['webgpu'].forEach((l, i) => assert.ok(Math.abs(l - losses['cpu']![i]!) < 1e-3, `step ${i + 1}: webgpu ${l}, cpu ${losses['cpu']![i]}`));
});

test('next-token training targets: every position scores the token after it, each answer position its answer', () => {
  const b: TaskBatch = {
    ids: [
      [3, 15, 7, 2, 15],
      [4, 4, 15, 9, 15],
    ],
    targets: [
      [NOT_SCORED, NOT_SCORED, NOT_SCORED, NOT_SCORED, 7],
      [NOT_SCORED, NOT_SCORED, NOT_SCORED, NOT_SCORED, 9],
    ],
  };
  assert.deepEqual(nextTokenTargets(b), [
    [15, 7, 2, 15, 7],
    [4, 15, 9, 15, 9],
  ]);
  // Selective Copying: the markers keep their answers (not the next marker), the noise before them
  // is scored against the next input.
  const sc = selectiveCopyingBatch(1, 12, V, 4, new RandomSource(3));
  const nt = nextTokenTargets(sc)[0]!;
  for (let t = 0; t < 12; t++) assert.equal(nt[t], sc.targets[0]![t] !== NOT_SCORED ? sc.targets[0]![t] : t < 11 ? sc.ids[0]![t + 1] : NOT_SCORED);
  assert.throws(() => parseSyntheticConfig({ task: 'induction-heads', trainOn: 'all', outDir: 'x' }, 'x.json'), /x\.json: field "trainOn": expected "answers" or "next-token"/);
  assert.equal(parseSyntheticConfig({ task: 'induction-heads', outDir: 'x' }, 'x.json').trainOn, 'answers');
});

test('trainOn "next-token" reaches the training loss: the same run ends at another loss than with the answers only', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'mamba-ts-next-token-'));
  try {
    const run = (trainOn: string) =>
      runSynthetic(
        parseSyntheticConfig(
          { task: 'induction-heads', trainOn, model: { hidden_size: 16, num_hidden_layers: 1 }, trainLength: 16, steps: 2, schedule: 'constant', lr: 0.01, batchSize: 4, evalInterval: 2, testLengths: [16], testBatches: 1, testBatchSize: 4, device: 'cpu', outDir: join(tmp, trainOn) },
          'test',
        ),
        () => undefined,
      );
    const [answers, nextToken] = [await run('answers'), await run('next-token')];
    assert.ok(Number.isFinite(answers.finalLoss) && Number.isFinite(nextToken.finalLoss));
    assert.notEqual(answers.finalLoss, nextToken.finalLoss);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
