/**
 * The fuzz harness itself: each way a case can go wrong must come back as the failure it is (a
 * hang, memory past the bound, a crash, a non-Error throw, a read or a request outside the model
 * root), and the worker must be replaced after each, so that a broken monitor can never let every
 * property pass unseen.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FuzzRunner } from './runner.js';
import { settled } from './property.js';
import type { FuzzCase, Outcome } from './protocol.js';

let runner: FuzzRunner;
before(async () => {
  runner = await FuzzRunner.create({ heapMb: 256, rssMb: 600, caseMs: 2000 });
});
after(async () => {
  await runner.close();
});

const act = (a: Extract<FuzzCase['target'], { kind: 'self-test' }>['act'], files: FuzzCase['files'] = []): FuzzCase => ({
  label: `self-test ${a}`,
  files,
  target: { kind: 'self-test', act: a },
});

/** `settled`'s verdict on an outcome: the assertion message, or undefined when it passes. */
function verdict(o: Outcome): string | undefined {
  try {
    settled(o);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

describe('fuzz harness', () => {
  test('a case that never answers is a timeout, and the next case gets a fresh worker', async () => {
    const o = await runner.run(act('hang'));
    assert.equal(o.kind, 'timeout');
    assert.match(verdict(o)!, /^hang: no result within 2000 ms/);
    const workers = runner.stats.workers;
    assert.equal((await runner.run(act('throw-non-error'))).kind, 'threw');
    assert.equal(runner.stats.workers, workers + 1);
  });

  test('memory past the bound (outside the V8 heap) kills the worker', async () => {
    const o = await runner.run(act('allocate'));
    assert.equal(o.kind, 'memory');
    assert.match(verdict(o)!, /^memory: the worker's resident memory passed the bound/);
  });

  test('a worker that dies is a crash', async () => {
    const o = await runner.run(act('exit'));
    assert.equal(o.kind, 'crashed');
    assert.match(verdict(o)!, /^crash: worker ended \(exit code 3\)/);
  });

  test('a throw that is not an Error fails', async () => {
    const o = await runner.run(act('throw-non-error'));
    assert.ok(o.kind === 'threw' && !o.isError);
    assert.match(verdict(o)!, /threw a non-Error \(string\): a string, not an Error/);
  });

  test('reading a file beside the model root is recorded', async () => {
    const o = await runner.run(act('read-outside', [{ path: 'secret.txt', text: 'secret' }]));
    assert.equal(o.kind, 'loaded');
    assert.ok(o.kind === 'loaded' && o.escapes.length === 1 && o.escapes[0]!.endsWith('/secret.txt'), JSON.stringify(o));
    assert.match(verdict(o)!, /read outside the model root: .*secret\.txt/);
  });

  test('requesting a URL beside the model root is recorded', async () => {
    const o = await runner.run(act('fetch-outside', [{ path: 'secret.txt', text: 'secret' }]));
    assert.ok(o.kind === 'loaded' && o.escapes.length === 1 && /^http:\/\/127\.0\.0\.1:\d+\/c\d+\/secret\.txt$/.test(o.escapes[0]!), JSON.stringify(o));
  });
});
