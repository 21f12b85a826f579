/**
 * Run as its own Node process by src/platform/node/adapter-probe.ts: asks Dawn for an adapter and prints what it is as
 * one JSON line. Dawn writes warnings about the adapter's limits straight to the process's stderr;
 * in this child they go to a pipe nobody shows, so choosing a device never prints them.
 */
import { adapterFacts, type AdapterFacts } from './adapter-kind.js';
import { gpuEntry } from '#platform/gpu.js';

type Answer = { facts: AdapterFacts } | { error: string };

async function probe(): Promise<Answer> {
  const adapter = await (await gpuEntry()).requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return { error: 'no WebGPU adapter (no GPU driver)' };
  return { facts: adapterFacts(adapter) };
}

const answer = await probe().catch((e: unknown): Answer => ({ error: (e as Error).message }));
process.stdout.write(`${JSON.stringify(answer)}\n`, () => process.exit(0)); // exit at once: Dawn's teardown is not needed
