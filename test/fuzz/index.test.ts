/**
 * Fuzzing model.safetensors.index.json (issue 14): shard names that try to leave the model folder
 * (`../`, `%2e%2e/`, `.\t./`, absolute paths and URLs), missing or odd shards (a folder, a FIFO, a
 * link to /dev/zero, truncated), and broken weight maps; loaded from a path and over HTTP. Bait
 * files with the right tensors sit just outside the model root, so an escape would load: the
 * worker records every file opened and URL requested outside the root, and any is a failure.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { FuzzRunner } from './runner.js';
import { assertLoaded, assertThrew, fuzzProperty, sameBytes, settled, type Draw } from './property.js';
import { CANARY, applyEdits, corruptText, describeEdit, textCorruptionArb, type JsonEdit } from './gen-json.js';
import { basesDir, makeShardedMamba, tensorsOf } from './bases.js';
import { ORIGIN_TOKEN, SANDBOX_TOKEN, type FileSpec } from './protocol.js';

const INDEX = 'model.safetensors.index.json';

let runner: FuzzRunner;
let parent: string;
let dir: string;
let index: { weight_map: Record<string, string> } & Record<string, unknown>;
let shards: string[];
let tensors: Map<string, Float32Array>;

before(async () => {
  runner = await FuzzRunner.create();
  parent = await basesDir();
  dir = await makeShardedMamba(parent);
  index = JSON.parse(await readFile(join(dir, INDEX), 'utf8')) as typeof index;
  shards = [...new Set(Object.values(index.weight_map))];
  assert.ok(shards.length >= 3, `expected several shards, got ${shards.length}`);
  tensors = new Map();
  for (const s of shards) for (const [n, v] of await tensorsOf(dir, s)) tensors.set(n, v);
});
after(async () => {
  await runner.close();
  await rm(parent, { recursive: true, force: true });
});

/** Shard names that must never lead outside the model root ({s} is a real shard's name). */
const HOSTILE_NAMES = [
  '../secret.safetensors', '..%2fsecret.safetensors', '%2e%2e/secret.safetensors', '%2E%2E/secret.safetensors', '.%2e/secret.safetensors',
  '%2e./secret.safetensors', '.\t./secret.safetensors', '.\n./secret.safetensors', '..\\secret.safetensors', 'x/../../secret.safetensors',
  './../secret.safetensors', '../private/secret.safetensors', '%252e%252e/secret.safetensors', '..%5csecret.safetensors', '....//secret.safetensors',
  '.../secret.safetensors', `${SANDBOX_TOKEN}/secret.safetensors`, `file://${SANDBOX_TOKEN}/secret.safetensors`, `${ORIGIN_TOKEN}/secret.safetensors`,
  '//127.0.0.1/secret.safetensors', '/etc/passwd', '~/secret.safetensors', 'C:\\secret.safetensors', '%00', 'nonexistent.safetensors', '', ' ',
  '.', './', '..', 'sub/', '{s} ', './{s}', 'sub/../{s}', '{s}?x=1', '{s}#frag', '{s}%00.txt', `${'a'.repeat(300)}.safetensors`, '__proto__', 'constructor',
];

type ShardTrouble = 'removed' | 'folder' | 'fifo' | 'dev-zero' | 'empty' | 'truncated';

interface IndexExpect {
  mustFail: boolean;
  corrupt: boolean;
}

const caseArb: fc.Arbitrary<Draw<IndexExpect>> = fc
  .record({
    shard: fc.nat(),
    tensor: fc.nat(),
    change: fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('rename' as const), name: fc.constantFrom(...HOSTILE_NAMES), all: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('map' as const), how: fc.nat({ max: 9 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('shard' as const), trouble: fc.constantFrom<ShardTrouble>('removed', 'folder', 'fifo', 'dev-zero', 'empty', 'truncated') }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('corrupt' as const), c: textCorruptionArb }) },
    ),
    http: fc.boolean(),
  })
  .map(({ shard: si, tensor: ti, change, http }): Draw<IndexExpect> => {
    const shard = shards[si % shards.length]!;
    const inShard = Object.keys(index.weight_map).filter((n) => index.weight_map[n] === shard);
    const one = inShard[ti % inShard.length]!;
    // Bait just outside the root: a copy of the shard, so that following a bad name would load.
    const files: FileSpec[] = [
      { path: 'secret.safetensors', copyOf: `model/${shard}` },
      { path: 'private/secret.safetensors', copyOf: `model/${shard}` },
    ];
    let label: string;
    let mustFail = true;
    let corrupt = false;
    const edits: JsonEdit[] = [];
    switch (change.kind) {
      case 'rename': {
        const name = change.name.replaceAll('{s}', shard);
        for (const n of change.all ? inShard : [one]) edits.push({ path: ['weight_map', n], valueText: JSON.stringify(name) });
        label = `weight_map: ${change.all ? `every tensor of ${shard}` : one} → ${JSON.stringify(name)}`;
        mustFail = false; // some names lead back into the root; escapes are caught by the read monitor
        break;
      }
      case 'map': {
        const how = [
          { path: ['weight_map'], valueText: '[]' },
          { path: ['weight_map'], valueText: `"${shard}"` },
          { path: ['weight_map'], valueText: 'null' },
          { path: ['weight_map'], valueText: '{}' },
          { path: ['weight_map'], remove: true as const },
          { path: ['weight_map', one], valueText: ['1', 'null', '{}', '[]', 'true'][ti % 5]! },
          { path: ['weight_map', one], remove: true as const },
          { path: ['weight_map', '__proto__'], valueText: JSON.stringify(shard) },
          { path: ['weight_map', 'constructor'], valueText: JSON.stringify(shard) },
          { path: ['weight_map', 'backbone.layers.9.mixer.A_log'], valueText: JSON.stringify(shard) },
        ][change.how]!;
        edits.push(how);
        label = describeEdit(how);
        break;
      }
      case 'shard': {
        const path = `model/${shard}`;
        const trouble: Record<ShardTrouble, FileSpec[]> = {
          removed: [{ path, remove: true }],
          folder: [{ path, remove: true }, { path, dir: true }],
          fifo: [{ path, remove: true }, { path, fifo: true }],
          'dev-zero': [{ path, remove: true }, { path, symlinkTo: '/dev/zero' }],
          empty: [{ path, bytes: new Uint8Array(0) }],
          truncated: [{ path, remove: true }, { path, bytes: new Uint8Array(ti % 4096) }],
        };
        files.push(...trouble[change.trouble]);
        label = `shard ${shard}: ${change.trouble}`;
        break;
      }
      case 'corrupt': {
        const c = corruptText(applyEdits(index, []), change.c);
        files.push(typeof c.text === 'string' ? { path: `model/${INDEX}`, text: c.text } : { path: `model/${INDEX}`, bytes: c.text });
        label = `${INDEX}: ${c.label}`;
        corrupt = true;
        break;
      }
    }
    if (edits.length) files.push({ path: `model/${INDEX}`, text: applyEdits(index, edits) });
    return {
      fuzzCase: { label: `${label} (${http ? 'over HTTP' : 'from a path'})`, base: dir, files, target: { kind: 'causal-lm', via: http ? 'http' : 'path' } },
      expect: { mustFail, corrupt },
    };
  });

describe('fuzz: model.safetensors.index.json', () => {
  test('sharded mamba with a hostile index or shards', async (t) => {
    await fuzzProperty(
      'index',
      runner,
      caseArb,
      ({ expect: e }, outcome) => {
        const o = settled(outcome);
        if (o.kind === 'threw') assert.ok(!o.message.includes(CANARY), `the error quotes the index: ${o.message.slice(0, 300)}`);
        if (e.mustFail) return assertThrew(o, e.corrupt ? 'the index is not a JSON object' : 'the index or a shard is broken');
        if (o.kind === 'threw') return;
        assertLoaded(o, '');
        const params = o.value.kind === 'model' ? o.value.params : [];
        assert.equal(params.length, tensors.size);
        for (const p of params) assert.ok(sameBytes(p.data, tensors.get(p.name)!), `${p.name} is not the shard's tensor`);
      },
      { runs: 120, log: (l) => t.diagnostic(l) },
    );
  });
});
