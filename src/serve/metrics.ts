/**
 * Prometheus metrics in the text exposition format (version 0.0.4), written by hand: counters,
 * gauges and histograms with labels, which is all `/metrics` needs.
 */

type Labels = Readonly<Record<string, string>>;

/** A label value escaped as the format asks: backslash, double quote and newline. */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
}

function formatNumber(v: number): string {
  return Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
}

interface Metric {
  readonly name: string;
  expose(): string;
}

abstract class Labelled<T> implements Metric {
  protected readonly series = new Map<string, { labels: Labels; value: T }>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly type: string,
  ) {}

  protected entry(labels: Labels, make: () => T): { labels: Labels; value: T } {
    const key = labelText(labels);
    let e = this.series.get(key);
    if (!e) {
      e = { labels: { ...labels }, value: make() };
      this.series.set(key, e);
    }
    return e;
  }

  protected header(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} ${this.type}\n`;
  }

  abstract expose(): string;
}

export class Counter extends Labelled<number> {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    this.entry(labels, () => 0).value += by;
  }
  get(labels: Labels = {}): number {
    return this.series.get(labelText(labels))?.value ?? 0;
  }
  expose(): string {
    if (!this.series.size) this.entry({}, () => 0);
    return this.header() + [...this.series.values()].map((e) => `${this.name}${labelText(e.labels)} ${formatNumber(e.value)}\n`).join('');
  }
}

/** A gauge read when exposed (active sequences, queue length). */
export class Gauge implements Metric {
  constructor(
    readonly name: string,
    private readonly help: string,
    private readonly read: () => number,
  ) {}
  expose(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${formatNumber(this.read())}\n`;
  }
}

interface Buckets {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Labelled<Buckets> {
  constructor(
    name: string,
    help: string,
    /** Upper bounds, increasing; +Inf is added. */
    private readonly bounds: readonly number[],
  ) {
    super(name, help, 'histogram');
  }
  observe(v: number, labels: Labels = {}): void {
    const b = this.entry(labels, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 })).value;
    this.bounds.forEach((le, i) => {
      if (v <= le) b.counts[i]!++;
    });
    b.sum += v;
    b.count++;
  }
  expose(): string {
    if (!this.series.size) this.entry({}, () => ({ counts: this.bounds.map(() => 0), sum: 0, count: 0 }));
    let out = this.header();
    for (const { labels, value: b } of this.series.values()) {
      this.bounds.forEach((le, i) => (out += `${this.name}_bucket${labelText(labels, ['le', formatNumber(le)])} ${b.counts[i]}\n`));
      out += `${this.name}_bucket${labelText(labels, ['le', '+Inf'])} ${b.count}\n`;
      out += `${this.name}_sum${labelText(labels)} ${formatNumber(b.sum)}\n`;
      out += `${this.name}_count${labelText(labels)} ${b.count}\n`;
    }
    return out;
  }
}

/** Seconds, from 5 ms to 2 minutes: first tokens and whole requests. */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** The server's metrics. */
export class ServerMetrics {
  readonly requests = new Counter('mamba_ts_requests_total', 'HTTP requests answered, by endpoint and status code.');
  readonly promptTokens = new Counter('mamba_ts_prompt_tokens_total', 'Prompt tokens of the sequences admitted.');
  readonly generatedTokens = new Counter('mamba_ts_generated_tokens_total', 'Tokens generated (end-of-sequence tokens included).');
  readonly sequences = new Counter('mamba_ts_sequences_total', 'Sequences that ended, by how they ended (eos, length, stop, cancelled, timeout, error).');
  readonly steps = new Counter('mamba_ts_decode_steps_total', 'Batched decode steps run.');
  readonly timeToFirstToken = new Histogram('mamba_ts_time_to_first_token_seconds', 'From receiving a request to its first generated token.', LATENCY_BUCKETS);
  readonly latency = new Histogram('mamba_ts_request_duration_seconds', 'From receiving a generation request to its last byte.', LATENCY_BUCKETS);
  readonly batchSize = new Histogram('mamba_ts_decode_batch_size', 'Sequences decoded together per step.', BATCH_BUCKETS);
  private readonly gauges: Gauge[];

  constructor(state: { active: () => number; queued: () => number; capacity: () => number }) {
    this.gauges = [
      new Gauge('mamba_ts_active_sequences', 'Sequences being decoded (rows of the running batch).', state.active),
      new Gauge('mamba_ts_queued_requests', 'Sequences waiting for a row of the batch.', state.queued),
      new Gauge('mamba_ts_max_active_sequences', 'Rows the batch may have (--max-concurrent).', state.capacity),
    ];
  }

  expose(): string {
    const all: Metric[] = [this.requests, this.promptTokens, this.generatedTokens, this.sequences, this.steps, ...this.gauges, this.timeToFirstToken, this.latency, this.batchSize];
    return all.map((m) => m.expose()).join('');
  }
}
