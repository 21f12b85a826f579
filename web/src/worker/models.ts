/**
 * Loaded models, kept between jobs: loading the Shakespeare model takes longer than generating a
 * few tokens. Keyed by location and device; one model per key.
 */
import type { DeviceUsed } from '../protocol.js';
import { AutoModelForCausalLM, AutoModelForTimeSeriesForecasting, AutoTokenizer, type ForecastingModel, type PreTrainedTokenizer } from './lib.js';

type CausalLM = Awaited<ReturnType<typeof AutoModelForCausalLM.fromPretrained>>;

const causal = new Map<string, Promise<CausalLM>>();
const tokenizers = new Map<string, Promise<PreTrainedTokenizer>>();
const forecasters = new Map<string, Promise<ForecastingModel>>();

function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = load();
    // A failed load is not remembered: the next job tries again.
    p.catch(() => map.delete(key));
    map.set(key, p);
  }
  return p;
}

/**
 * The language model at `location` on the device. Only the last one loaded is kept: each may hold
 * hundreds of MB of GPU memory, and a page that tries several would otherwise keep them all (jobs
 * run one at a time, so nothing still uses the one let go).
 */
export function causalLM(location: string, d: DeviceUsed): Promise<CausalLM> {
  const key = `${d.device} ${location}`;
  for (const [other, p] of causal) {
    if (other === key) continue;
    causal.delete(other);
    void p.then((m) => m.dispose(), () => undefined);
  }
  return cached(causal, key, () => AutoModelForCausalLM.fromPretrained(location, { device: d.device }));
}

export function tokenizer(location: string): Promise<PreTrainedTokenizer> {
  return cached(tokenizers, location, () => AutoTokenizer.fromPretrained(location));
}

export function forecaster(location: string, d: DeviceUsed): Promise<ForecastingModel> {
  return cached(forecasters, `${d.device} ${location}`, () => AutoModelForTimeSeriesForecasting.fromPretrained(location, { device: d.device }));
}
