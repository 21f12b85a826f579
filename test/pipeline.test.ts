/** pipeline('text-generation'): text in, transformers.js-shaped text out, through the bundled model. */
import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { ArgumentError } from '../src/errors.js';
import { TextStreamer } from '../src/generation/streamer.js';
import { AutoTokenizer } from '../src/io/tokenizer.js';
import { AutoModelForCausalLM } from '../src/models/auto.js';
import { liveTensorCount } from '../src/tensor/memory.js';
import * as lib from '../src/index.js';

const BUNDLED = resolve(dirname(fileURLToPath(import.meta.url)), '../../models/mamba-shakespeare');
const generator = await lib.pipeline('text-generation', BUNDLED);
after(() => generator.dispose());

/** What generate + decode give for one prompt, greedy: the reference for the pipeline's text. */
async function reference(prompt: string, maxNewTokens: number): Promise<string> {
  const ids = generator.tokenizer.encode(prompt);
  const out = await lib.generate(generator.model, [ids], { maxNewTokens });
  return generator.tokenizer.decode(out[0]!, { skipSpecialTokens: true });
}

describe("pipeline('text-generation')", () => {
  test('one prompt gives [{ generated_text }]: the prompt and its continuation, as generate + decode', async () => {
    const out = await generator('ROMEO:', { maxNewTokens: 24 });
    const live = liveTensorCount(); // after the first call: layers cache -exp(A_log) on first use
    assert.equal(out.length, 1);
    assert.deepEqual(Object.keys(out[0]!), ['generated_text']);
    assert.equal(out[0]!.generated_text, await reference('ROMEO:', 24));
    assert.ok(out[0]!.generated_text.startsWith('ROMEO:') && out[0]!.generated_text.length > 'ROMEO:'.length + 10);
    const rest = await generator('ROMEO:', { maxNewTokens: 24, returnFullText: false });
    assert.deepEqual(rest, [{ generated_text: out[0]!.generated_text.slice('ROMEO:'.length) }]);
    assert.equal(liveTensorCount(), live);
  });

  test('a list of prompts gives one list per prompt, each as if alone', async () => {
    const out = await generator(['ROMEO:', 'JULIET: O'], { maxNewTokens: 12 });
    assert.deepEqual(out, [[{ generated_text: await reference('ROMEO:', 12) }], [{ generated_text: await reference('JULIET: O', 12) }]]);
  });

  test('a streamer gets the continuation as it is generated', async () => {
    let streamed = '';
    const streamer = new TextStreamer(generator.tokenizer, { skipPrompt: true, onText: (t) => (streamed += t) });
    const [out] = await generator('KING:', { maxNewTokens: 16, streamer, returnFullText: false });
    assert.equal(streamed, out!.generated_text);
  });

  test('a loaded model and tokenizer work too, and stay the caller’s', async () => {
    const model = await AutoModelForCausalLM.fromPretrained(BUNDLED);
    const tokenizer = await AutoTokenizer.fromPretrained(BUNDLED);
    const p = await lib.pipeline('text-generation', model, { tokenizer });
    assert.deepEqual(await p('ROMEO:', { maxNewTokens: 8 }), await generator('ROMEO:', { maxNewTokens: 8 }));
    p.dispose();
    assert.equal((await model.generate([[1]], { maxNewTokens: 1 }))[0]!.length, 2); // not disposed by the pipeline
    model.dispose();
  });

  test('bad tasks, options and inputs are named', async () => {
    const arg = (re: RegExp) => (e: unknown) => e instanceof ArgumentError && re.test(e.message);
    await assert.rejects(lib.pipeline('summarization' as never, BUNDLED), arg(/^pipeline: unknown task "summarization"; supported: text-generation$/));
    await assert.rejects(lib.pipeline('text-generation', BUNDLED, { devise: 'cpu' } as never), arg(/^pipeline: unknown option 'devise' — did you mean 'device'\?$/));
    await assert.rejects(lib.pipeline('text-generation', generator.model), arg(/with a loaded model, pass its tokenizer too/));
    await assert.rejects(lib.pipeline('text-generation', 42 as never), arg(/expected a model folder or a loaded causal LM .*got a number/));
    await assert.rejects(generator('ROMEO:', { max_new_tokens: 5 } as never), arg(/^text-generation: unknown option 'max_new_tokens' — did you mean 'maxNewTokens'\?$/));
    await assert.rejects(generator(['a', 'b'], { streamer: new TextStreamer(generator.tokenizer) }), arg(/a streamer follows one prompt/));
    await assert.rejects(generator(''), arg(/prompt 0 \(""\) encodes to no tokens/));
    await assert.rejects(generator([] as string[]), arg(/expected a prompt \(string\) or a non-empty string\[\], got an array holding nothing/));
    await assert.rejects(generator(7 as never), arg(/got a number/));
  });
});
