/**
 * Options objects and token-id arguments: an unknown key is an error naming it and the key meant
 * (never silently ignored), and ids of the wrong kind say how to get the right kind.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { MambaForCausalLM } from '../src/models/mamba/modeling.js';
import type { JambaForCausalLM } from '../src/models/jamba/modeling.js';
import { MambaConfig } from '../src/models/mamba/config.js';
import { TextStreamer } from '../src/generation/streamer.js';
import { generateSteps } from '../src/generation/generate.js';
import { AdamW } from '../src/train/adamw.js';
import { parseTrainConfig } from '../src/train/train-config.js';
import { parseForecastConfig } from '../src/train/forecast-config.js';
import { runTraining } from '../src/train/trainer.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { checkOptionKeys, suggestKey, unknownKeyMessage } from '../src/options.js';
import { tensor } from '../src/ops/create.js';
import { SHARED, fixture } from './helpers.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MAMBA = fixture('hf', 'mamba-tiny', 'model');
const JAMBA = fixture('hf', 'jamba-tiny', 'model');
const mamba = (await AutoModelForCausalLM.fromPretrained(MAMBA)) as MambaForCausalLM;
const jamba = (await AutoModelForCausalLM.fromPretrained(JAMBA)) as JambaForCausalLM;
after(() => {
  mamba.dispose();
  jamba.dispose();
});

/** An ArgumentError whose message matches `re`. */
const argError = (re: RegExp) => (e: unknown) => e instanceof ArgumentError && re.test(e.message);

describe('suggestions for unknown keys', () => {
  test('snake_case, other case styles and typos map to the allowed key; nothing close gives none', () => {
    const allowed = ['maxNewTokens', 'temperature', 'topK', 'doSample'];
    assert.equal(suggestKey('max_new_tokens', allowed), 'maxNewTokens');
    assert.equal(suggestKey('MaxNewTokens', allowed), 'maxNewTokens');
    assert.equal(suggestKey('do-sample', allowed), 'doSample');
    assert.equal(suggestKey('tempreature', allowed), 'temperature');
    assert.equal(suggestKey('top_k', allowed), 'topK');
    assert.equal(suggestKey('beams', allowed), undefined);
    assert.equal(suggestKey('hiddenSize', ['hidden_size', 'vocab_size']), 'hidden_size');
    assert.equal(unknownKeyMessage('max_new_tokens', allowed), "unknown option 'max_new_tokens' — did you mean 'maxNewTokens'?");
    assert.equal(unknownKeyMessage('beams', allowed), "unknown option 'beams' (known: maxNewTokens, temperature, topK, doSample)");
  });

  test('options that are not an object are refused; no options pass', () => {
    assert.throws(() => checkOptionKeys('generate', 20, ['maxNewTokens']), argError(/^generate: expected an options object \(\{ maxNewTokens, … \}\), got a number$/));
    assert.throws(() => checkOptionKeys('generate', [1], ['maxNewTokens']), argError(/got an array/));
    checkOptionKeys('generate', undefined, ['maxNewTokens']);
    checkOptionKeys('generate', { maxNewTokens: 3 }, ['maxNewTokens']);
  });
});

describe('unknown options are errors everywhere', () => {
  test('generate and generateSteps', async () => {
    const bad = { max_new_tokens: 3 } as unknown as { maxNewTokens: number };
    await assert.rejects(mamba.generate([[1, 2]], bad), argError(/^generate: unknown option 'max_new_tokens' — did you mean 'maxNewTokens'\?$/));
    await assert.rejects(jamba.generate([[1, 2]], { do_sample: true } as never), argError(/unknown option 'do_sample' — did you mean 'doSample'\?/));
    await assert.rejects(generateSteps(mamba, [[1]], { topk: 5 } as never).next(), argError(/unknown option 'topk' — did you mean 'topK'\?/));
    // The right spelling works as before.
    assert.equal((await mamba.generate([[1, 2]], { maxNewTokens: 3, eosTokenId: null }))[0]!.length, 5);
  });

  test('forward', async () => {
    await assert.rejects(mamba.forward([[1, 2]], { output_hidden_states: true } as never), argError(/^forward: unknown option 'output_hidden_states' — did you mean 'outputHiddenStates'\?$/));
    await assert.rejects(jamba.forward([[1, 2]], { attention_mask: [[1, 1]] } as never), argError(/did you mean 'attentionMask'\?/));
  });

  test('fromPretrained', async () => {
    await assert.rejects(AutoModelForCausalLM.fromPretrained(MAMBA, { devcie: 'cpu' } as never), argError(/^AutoModelForCausalLM\.fromPretrained: unknown option 'devcie' — did you mean 'device'\?$/));
    await assert.rejects(MambaForCausalLM.fromPretrained(MAMBA, { progress_callback: () => undefined } as never), argError(/did you mean 'progressCallback'\?/));
  });

  test('TextStreamer, AdamW, tokenizer methods, runTraining', async () => {
    const tok = await AutoTokenizer.fromPretrained(resolve(SHARED, 'data/tokenizers/gpt-neox-20b'));
    assert.throws(() => new TextStreamer(tok, { skip_prompt: true } as never), argError(/^TextStreamer: unknown option 'skip_prompt' — did you mean 'skipPrompt'\?$/));
    assert.throws(() => new AdamW(mamba.namedParameters(), { weight_decay: 0.1 } as never), argError(/^AdamW: unknown option 'weight_decay' — did you mean 'weightDecay'\?$/));
    assert.throws(() => tok.encode('x', { add_special_tokens: false } as never), argError(/^encode: unknown option 'add_special_tokens' — did you mean 'addSpecialTokens'\?$/));
    assert.throws(() => tok.decode([1], { skip_special_tokens: true } as never), argError(/did you mean 'skipSpecialTokens'\?/));
    const c = parseTrainConfig({ data: { path: 'unused.txt' }, outDir: 'unused' }, 'c.json');
    await assert.rejects(runTraining(c, { onprogress: () => undefined } as never), argError(/^runTraining: unknown option 'onprogress' — did you mean 'onProgress'\?$/));
  });

  test('config files and configs built in code name the field meant', () => {
    assert.throws(() => parseTrainConfig({ data: { path: 'x.txt' }, outDir: 'o', batch_size: 4 }, 'train.json'), /^FormatError: train\.json: unknown field\(s\) batch_size \(did you mean "batchSize"\?\); known: steps, /);
    assert.throws(() => parseTrainConfig({ data: { path: 'x.txt', valid_fraction: 0.1 }, outDir: 'o' }, 'train.json'), /unknown field\(s\) data\.valid_fraction \(did you mean "data\.validFraction"\?\); known: path, corpus, validFraction, tokenizer/);
    const forecast = JSON.parse(readFileSync(resolve(ROOT, 'experiments/tsm2/tiny-cpu.json'), 'utf8')) as Record<string, unknown>;
    assert.throws(() => parseForecastConfig({ ...forecast, max_steps_per_epoch: 2 }, 'f.json'), /unknown field\(s\) max_steps_per_epoch \(did you mean "maxStepsPerEpoch"\?\)/);
    assert.throws(() => MambaConfig.create({ hidden_size: 8, num_hidden_layers: 1, vocab_size: 8, stateSize: 4 } as never), argError(/^MambaConfig: unknown field\(s\) stateSize \(did you mean "state_size"\?\)/));
  });
});

describe('token ids of the wrong kind', () => {
  test('a string, one flat sequence, string[] or a tensor say how to get number[][]', async () => {
    const want = 'inputIds: expected token ids (number[][]: a batch of sequences), got';
    const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await assert.rejects(mamba.generate('Hello' as never), argError(new RegExp(`^${esc(want)} a string; encode it first: \\[tokenizer\\.encode\\(text\\)\\]$`)));
    await assert.rejects(mamba.generate([1, 2] as never), argError(new RegExp(`^${esc(want)} one flat sequence \\(number\\[\\]\\); wrap it in a batch: \\[ids\\]$`)));
    await assert.rejects(mamba.generate(['Hello'] as never), argError(/got string\[\]; encode each text first/));
    await assert.rejects(mamba.forward('Hello' as never), argError(new RegExp(`^${esc(want)} a string`)));
    await assert.rejects(jamba.forward([1, 2] as never), argError(/wrap it in a batch/));
    const t = tensor(new Int32Array([1, 2]), [1, 2], { dtype: 'i32' });
    await assert.rejects(mamba.generate(t as never), argError(/got a Tensor; pass the ids as number\[\]\[\], not a tensor/));
    t.dispose();
    await assert.rejects(mamba.generate([]), argError(/got an empty batch \[\]/));
  });

  test('non-integer and out-of-range ids are named by position before any work', async () => {
    await assert.rejects(mamba.generate([[1, 2.5]]), argError(/^inputIds\[0\]\[1\] = 2\.5: expected an integer token id >= 0$/));
    await assert.rejects(mamba.generate([[1], ['a']] as never), argError(/^inputIds\[1\]\[0\] = "a": expected an integer token id >= 0$/));
    await assert.rejects(mamba.generate([[1, 9999]]), argError(/^inputIds\[0\]\[1\] = 9999 is not a token id of this model \(vocabulary \[0, 512\)\)$/));
    await assert.rejects(mamba.forward([[1, 2]], { labels: 'x' as never }), argError(/^labels: expected number\[\]\[\] of the shape of inputIds \(1 × 2\), got a string$/));
  });
});
