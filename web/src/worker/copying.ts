/**
 * Selective copying, live: one example of the task (src/experiments/synthetic-tasks.ts) from a
 * seed, run through the shipped S6 model and its LTI ablation; each model's argmax at each marker
 * is what it recalled. The task's sizes come from the models' results.json (their training config).
 */
import type { CopyingJob, CopyingModelResult, CopyingResult, DeviceUsed } from '../protocol.js';
import { MambaForCausalLM, noGrad, RandomSource, selectiveCopyingBatch } from './lib.js';
import { causalLM } from './models.js';
import { shipped } from './urls.js';

export const COPYING_MODELS = [
  { name: 'S6 (selective)', path: 'models/selective-copying-s6' },
  { name: 'LTI (no selection)', path: 'models/selective-copying-lti' },
] as const;

interface Recorded {
  config: { vocab: number; memorize: number; trainLength: number };
  accuracy: { length: number; accuracy: number }[];
}

async function recorded(path: string): Promise<Recorded> {
  const url = shipped(`${path}/results.json`);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const j = (await r.json()) as Partial<Recorded>;
  const c = j.config;
  if (!c || !Number.isInteger(c.vocab) || !Number.isInteger(c.memorize) || !Number.isInteger(c.trainLength)) {
    throw new Error(`${url}: expected config.vocab, config.memorize and config.trainLength (integers)`);
  }
  return { config: c, accuracy: Array.isArray(j.accuracy) ? j.accuracy : [] };
}

/** Index of the largest value in each row at the given positions of (1, L, V) logits. */
function argmaxAt(logits: Float32Array, V: number, positions: number[]): number[] {
  return positions.map((p) => {
    let best = 0;
    for (let v = 1; v < V; v++) if (logits[p * V + v]! > logits[p * V + best]!) best = v;
    return best;
  });
}

export async function runCopying(job: CopyingJob, d: DeviceUsed): Promise<CopyingResult> {
  const meta = await Promise.all(COPYING_MODELS.map((m) => recorded(m.path)));
  const { vocab, memorize, trainLength } = meta[0]!.config;
  const b = selectiveCopyingBatch(1, trainLength, vocab, memorize, new RandomSource(job.seed));
  const ids = b.ids[0]!;
  const markers = ids.map((_, i) => i).filter((i) => b.targets[0]![i]! >= 0);
  const answers = markers.map((i) => b.targets[0]![i]!);
  const models: CopyingModelResult[] = [];
  for (const [k, m] of COPYING_MODELS.entries()) {
    const model = (await causalLM(shipped(m.path).replace(/\/$/, ''), d)) as MambaForCausalLM;
    const out = await noGrad(() => model.forward([ids]));
    const logits = (await out.logits.data()) as Float32Array;
    out.logits.dispose();
    const predictions = argmaxAt(logits, out.logits.shape[2]!, markers);
    const acc = meta[k]!.accuracy.find((a) => a.length === trainLength)?.accuracy ?? null;
    models.push({ name: m.name, predictions, correct: predictions.filter((p, i) => p === answers[i]).length, recordedAccuracy: acc });
  }
  return { ids, answers, vocab, models };
}
