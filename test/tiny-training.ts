/** A tiny, fast LM training run with a checkpoint every 2 of its 4 steps, for the crash and output-path tests. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SHARED } from './helpers.js';

/** Writes the first 20,000 characters of TinyShakespeare into `dir`; returns the file's path. */
export function writeTinyCorpus(dir: string): string {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, readFileSync(resolve(SHARED, 'data/text/tinyshakespeare.txt'), 'utf8').slice(0, 20000));
  return corpus;
}

/** 4 steps of a tiny model, a checkpoint every 2: the second save replaces the first. */
export function tinyCheckpointingConfig(corpus: string, outDir: string, seed: number): Record<string, unknown> {
  return {
    model: { hidden_size: 8, num_hidden_layers: 1, use_bias: false }, data: { path: corpus },
    steps: 4, batchSize: 2, seqLen: 8, evalInterval: 2, evalBatches: 1, checkpointInterval: 2, warmupSteps: 1, outDir, seed, device: 'cpu',
  };
}
