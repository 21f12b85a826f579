/**
 * Fuzzing the safetensors reader (issue 14): files written by the library's writer, then mutated.
 * An equivalent header must load the same tensors, a broken rule must be a FormatError naming the
 * file, and random damage must be judged exactly as the independent reference reader judges it —
 * both through SafetensorsFile.parse and through AutoModelForCausalLM.fromPretrained.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { fixture } from '../helpers.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import { FuzzRunner } from './runner.js';
import { assertLoaded, assertThrew, fuzzProperty, sameBytes, settled, type Draw } from './property.js';
import { mutate, mutationArb, stFileArb, takeApart, type Expect } from './gen-safetensors.js';
import { referenceRead, type RefResult, type RefTensor } from './safetensors-reference.js';
import type { Loaded, LoadedTensor } from './protocol.js';

const MAMBA = fixture('hf', 'mamba-tiny', 'model');

interface StExpect {
  expect: Expect;
  ref: RefResult;
  base: RefTensor[];
  baseMetadata: [string, string][];
}

function byName<T extends { name: string }>(xs: readonly T[]): T[] {
  return [...xs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The loaded tensors (raw bytes) equal `want`, by name, dtype, shape and bytes. */
function assertSameTensors(got: LoadedTensor[], want: RefTensor[], what: string): void {
  const g = byName(got);
  const w = byName(want);
  assert.deepEqual(g.map((t) => t.name), w.map((t) => t.name), `${what}: tensor names`);
  g.forEach((t, i) => {
    assert.equal(t.dtype, w[i]!.dtype, `${what}: ${t.name}: dtype`);
    assert.deepEqual(t.shape, w[i]!.shape, `${what}: ${t.name}: shape`);
    assert.ok(sameBytes(t.data, w[i]!.bytes), `${what}: ${t.name}: bytes differ`);
  });
}

const sortedPairs = (p: [string, string][]): [string, string][] => [...p].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** The generator's expectation must agree with the reference reader: else the test itself is wrong. */
function checkGenerator(e: StExpect): void {
  if (e.expect === 'same') assert.ok(e.ref.ok, `fuzz generator bug: an equivalent file that the reference rejects (${!e.ref.ok ? e.ref.why : ''})`);
  if (e.expect === 'fail') assert.ok(!e.ref.ok, 'fuzz generator bug: a rule-breaking file that the reference accepts');
}

let runner: FuzzRunner;
before(async () => {
  runner = await FuzzRunner.create();
});
after(async () => {
  await runner.close();
});

describe('fuzz: safetensors', () => {
  test('SafetensorsFile.parse of written, then mutated, files', async (t) => {
    const arb = fc.tuple(stFileArb, mutationArb).map(([file, m]): Draw<StExpect> => {
      const base = referenceRead(file.bytes);
      assert.ok(base.ok, `the writer's output breaks the format: ${!base.ok ? base.why : ''}`);
      const mutated = mutate(takeApart(file.bytes), file.bytes, m);
      return {
        fuzzCase: {
          label: `${mutated.label} (file of ${file.tensors} tensors, ${file.metadata < 0 ? 'no' : file.metadata} metadata keys)`,
          files: [{ path: 'model/model.safetensors', bytes: mutated.bytes }],
          target: { kind: 'parse', file: 'model.safetensors' },
        },
        expect: { expect: mutated.expect, ref: referenceRead(mutated.bytes), base: base.tensors, baseMetadata: base.metadata },
      };
    });
    await fuzzProperty(
      'safetensors parse',
      runner,
      arb,
      ({ expect: e }, outcome) => {
        checkGenerator(e);
        const o = settled(outcome);
        if (o.kind === 'threw') assert.equal(o.name, 'FormatError', `a bad file must be a FormatError, got ${o.name}: ${o.message}`);
        if (!e.ref.ok) return assertThrew(o, `it breaks the format (${e.ref.why})`);
        assertLoaded(o, 'the reference reader accepts it');
        const loaded = o.value as Extract<Loaded, { kind: 'parse' }>;
        assertSameTensors(loaded.tensors, e.ref.tensors, 'as the reference reads it');
        assert.deepEqual(sortedPairs(loaded.metadata), sortedPairs(e.ref.metadata), 'metadata');
        if (e.expect === 'same') {
          assertSameTensors(loaded.tensors, e.base, 'as written');
          assert.deepEqual(sortedPairs(loaded.metadata), sortedPairs(e.baseMetadata), 'metadata as written');
        }
      },
      { runs: 400, log: (l) => t.diagnostic(l) },
    );
  });

  test('AutoModelForCausalLM.fromPretrained with a mutated model.safetensors', async (t) => {
    const bytes = new Uint8Array(readFileSync(`${MAMBA}/model.safetensors`));
    const file = takeApart(bytes);
    const parsed = SafetensorsFile.parse(bytes, 'base');
    const params = new Map(parsed.names().map((n) => [n, parsed.toFloat32(n)]));
    const arb = mutationArb.map((m): Draw<Expect> => {
      const mutated = mutate(file, bytes, m);
      return {
        fuzzCase: { label: `${mutated.label} (mamba-tiny)`, base: MAMBA, files: [{ path: 'model/model.safetensors', bytes: mutated.bytes }], target: { kind: 'causal-lm', via: 'path' } },
        expect: mutated.expect,
      };
    });
    await fuzzProperty(
      'safetensors through fromPretrained',
      runner,
      arb,
      ({ expect }, outcome) => {
        const o = settled(outcome);
        if (expect === 'fail') assertThrew(o, 'the file breaks the format');
        if (expect === 'same') {
          assertLoaded(o, 'the file is equivalent to the original');
          const loaded = o.value as Extract<Loaded, { kind: 'model' }>;
          assert.equal(loaded.params.length, params.size);
          for (const p of loaded.params) assert.ok(sameBytes(p.data, params.get(p.name)!), `${p.name} differs from the file's tensor`);
        }
      },
      { runs: 80, log: (l) => t.diagnostic(l) },
    );
  });
});
