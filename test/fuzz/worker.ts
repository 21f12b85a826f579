/**
 * The fuzz worker: a child process (started by runner.ts with a heap limit) that runs one case at a
 * time through the library's public loaders and reports what happened. Run any other way (the test
 * runner executes every .js file under dist/test/) it does nothing.
 *
 * Per case it writes a sandbox folder (`model/` is the model root; files beside it, such as
 * `secret.safetensors`, are bait outside the root), runs the loader, and records every local file
 * opened and every URL path requested that lies in the sandbox but outside the model root.
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AutoModelForCausalLM, AutoModelForTimeSeriesForecasting, AutoTokenizer, SafetensorsFile } from '../../src/index.js';
import { readText } from '../../src/io/platform.js';
import { forecastTable, readCsvForModel } from '../../src/timeseries/forecast.js';
import type { Module } from '../../src/nn/module.js';
import { ORIGIN_TOKEN, SANDBOX_TOKEN, type FileSpec, type FuzzCase, type Loaded, type LoadedTensor, type Outcome, type WorkerReply, type WorkerRequest } from './protocol.js';

const original = {
  readFile: fs.promises.readFile,
  stat: fs.promises.stat,
};

/** Paths the library opened during the current case (absolute, normalised). */
let opened: string[] = [];
/** URL paths requested from the case server during the current case. */
let requested: string[] = [];

function pathOf(p: unknown): string | undefined {
  if (typeof p === 'string') return resolve(p.startsWith('file:') ? fileURLToPath(p) : p);
  if (p instanceof URL && p.protocol === 'file:') return resolve(fileURLToPath(p));
  if (Buffer.isBuffer(p)) return resolve(p.toString());
  return undefined; // a file descriptor: its path was recorded when it was opened
}

/**
 * Wraps fs's functions that open files for reading so that every path is recorded; the library
 * imports them as ESM bindings, which syncBuiltinESMExports updates.
 */
function monitorReads(): void {
  const record = (p: unknown): void => {
    const path = pathOf(p);
    if (path !== undefined) opened.push(path);
  };
  const wrap = <T extends object>(obj: T, names: (keyof T & string)[]): void => {
    for (const name of names) {
      const fn = obj[name] as unknown as (...args: unknown[]) => unknown;
      if (typeof fn !== 'function') continue;
      (obj as Record<string, unknown>)[name] = function (this: unknown, p: unknown, ...rest: unknown[]) {
        record(p);
        return fn.call(this, p, ...rest);
      };
    }
  };
  wrap(fs, ['open', 'openSync', 'readFile', 'readFileSync', 'createReadStream', 'openAsBlob' as keyof typeof fs & string]);
  wrap(fs.promises, ['open', 'readFile']);
  syncBuiltinESMExports();
}

/** Serves the worker's folder on 127.0.0.1, regular files only (a FIFO must not hang the server itself). */
async function startServer(root: string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      requested.push(pathname);
      const file = resolve(root, `.${decodeURIComponent(pathname)}`);
      const st = file.startsWith(root + sep) ? await original.stat(file).catch(() => undefined) : undefined;
      if (!st?.isFile()) {
        res.writeHead(404).end();
        return;
      }
      const body = await original.readFile(file);
      res.writeHead(200, { 'content-length': body.byteLength });
      res.end(req.method === 'HEAD' ? undefined : body);
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function writeSpec(sandbox: string, origin: string, spec: FileSpec): Promise<void> {
  const path = join(sandbox, spec.path);
  await fs.promises.mkdir(resolve(path, '..'), { recursive: true });
  if ('remove' in spec) await fs.promises.rm(path, { recursive: true, force: true });
  else if ('bytes' in spec) await fs.promises.writeFile(path, spec.bytes);
  else if ('text' in spec) await fs.promises.writeFile(path, spec.text.replaceAll(SANDBOX_TOKEN, sandbox).replaceAll(ORIGIN_TOKEN, origin));
  else if ('copyOf' in spec) await fs.promises.copyFile(join(sandbox, spec.copyOf), path);
  else if ('symlinkTo' in spec) await fs.promises.symlink(spec.symlinkTo, path);
  else if ('dir' in spec) await fs.promises.mkdir(path, { recursive: true });
  else {
    const { execFileSync } = await import('node:child_process');
    execFileSync('mkfifo', [path]);
  }
}

async function params(m: Module): Promise<LoadedTensor[]> {
  const out: LoadedTensor[] = [];
  for (const [name, t] of m.stateDict()) {
    out.push({ name, dtype: 'F32', shape: [...t.shape], data: Float32Array.from((await t.data()) as Float32Array) });
  }
  return out;
}

async function load(c: FuzzCase, sandbox: string, root: string): Promise<Loaded> {
  const t = c.target;
  switch (t.kind) {
    case 'parse': {
      const path = join(root, t.file);
      const file = SafetensorsFile.parse(new Uint8Array(await fs.promises.readFile(path)), path);
      const tensors = file.names().map((name) => {
        const e = file.entry(name);
        return { name, dtype: e.dtype, shape: e.shape, data: file.raw(name).slice() };
      });
      return { kind: 'parse', metadata: Object.entries(file.metadata), tensors };
    }
    case 'causal-lm': {
      const model = await AutoModelForCausalLM.fromPretrained(root);
      try {
        return { kind: 'model', params: await params(model), config: model.config.toJSON() };
      } finally {
        model.dispose();
      }
    }
    case 'forecaster': {
      const f = await AutoModelForTimeSeriesForecasting.fromPretrained(root);
      try {
        return { kind: 'forecaster', params: await params(f.model), columns: f.meta.columns, scaler: f.meta.scaler, config: { ...f.model.config } };
      } finally {
        f.dispose();
      }
    }
    case 'tokenizer': {
      const tok = await AutoTokenizer.fromPretrained(root);
      const encodings = t.texts.map((s) => tok.encode(s, { addSpecialTokens: false }));
      const decoded = encodings.map((ids) => {
        try {
          return { text: tok.decode(ids) };
        } catch (e) {
          return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
        }
      });
      return { kind: 'tokenizer', vocabSize: tok.vocabSize, special: [tok.bosTokenId, tok.eosTokenId, tok.padTokenId], encodings, decoded };
    }
    case 'forecast-csv': {
      // What `mamba-ts forecast --model DIR --csv FILE` does.
      const f = await AutoModelForTimeSeriesForecasting.fromPretrained(root);
      try {
        const csv = join(sandbox, t.csv);
        const table = readCsvForModel(await readText(csv), csv, f.meta);
        const out = await forecastTable(f.model, f.meta, table, csv);
        return { kind: 'forecast-csv', history: out.history, forecast: out.forecast };
      } finally {
        f.dispose();
      }
    }
    case 'self-test':
      return selfTest(t.act, sandbox, root);
  }
}

/** What harness.test.ts asks for: each way a case can go wrong, on purpose. */
async function selfTest(act: Extract<FuzzCase['target'], { kind: 'self-test' }>['act'], sandbox: string, root: string): Promise<Loaded> {
  switch (act) {
    case 'hang':
      for (;;) {
        // A synchronous loop: the worker cannot even answer, as in a catastrophic regex.
      }
    case 'allocate': {
      const held: Uint8Array[] = [];
      for (;;) {
        held.push(new Uint8Array(64 * 2 ** 20).fill(1)); // outside the V8 heap, like a read of /dev/zero
        await new Promise((ok) => setTimeout(ok, 1));
      }
    }
    case 'throw-non-error':
      throw 'a string, not an Error';
    case 'read-outside':
      await fs.promises.readFile(join(sandbox, 'secret.txt'));
      return { kind: 'self-test' };
    case 'fetch-outside':
      await fetch(new URL('../secret.txt', root));
      return { kind: 'self-test' };
    case 'exit':
      process.exit(3);
  }
}

async function runCase(id: number, c: FuzzCase, dir: string, origin: string): Promise<Outcome> {
  const sandbox = join(dir, `c${id}`);
  const modelDir = join(sandbox, 'model');
  try {
    await fs.promises.mkdir(sandbox, { recursive: true });
    if (c.base !== undefined) await fs.promises.cp(c.base, modelDir, { recursive: true });
    else await fs.promises.mkdir(modelDir, { recursive: true });
    for (const spec of c.files) await writeSpec(sandbox, origin, spec);
  } catch (e) {
    return { kind: 'crashed', detail: `the fuzz worker could not write the case's files: ${String(e)}` };
  }
  const viaHttp = (c.target.kind === 'causal-lm' && c.target.via === 'http') || (c.target.kind === 'self-test' && c.target.act === 'fetch-outside');
  const urlRoot = `/c${id}/model/`;
  const root = viaHttp ? `${origin}${urlRoot}` : modelDir;
  // The one file outside the model root a case may read: the CSV the user names.
  const allowed = c.target.kind === 'forecast-csv' ? join(sandbox, c.target.csv) : undefined;
  opened = [];
  requested = [];
  const where = (): { sandbox: string; root: string; escapes: string[] } => ({
    sandbox,
    root,
    escapes: [
      ...opened.filter((p) => p.startsWith(sandbox + sep) && !p.startsWith(modelDir + sep) && p !== modelDir && p !== allowed),
      ...requested.filter((p) => !p.startsWith(urlRoot)).map((p) => `${origin}${p}`),
    ],
  });
  let outcome: Outcome;
  try {
    outcome = { kind: 'loaded', value: await load(c, sandbox, root), ...where() };
  } catch (e) {
    const isError = e instanceof Error;
    outcome = {
      kind: 'threw',
      isError,
      name: isError ? e.name : typeof e,
      message: isError ? e.message : String(e),
      ...(isError && e.stack !== undefined ? { stack: e.stack } : {}),
      ...where(),
    };
  }
  await fs.promises.rm(sandbox, { recursive: true, force: true });
  return outcome;
}

async function main(): Promise<void> {
  const dir = process.env['MAMBA_TS_FUZZ_DIR'];
  if (dir === undefined) throw new Error('MAMBA_TS_FUZZ_DIR is not set');
  const { origin } = await startServer(resolve(dir));
  monitorReads();
  process.on('message', (m: WorkerRequest) => {
    void runCase(m.id, m.fuzzCase, resolve(dir), origin).then((outcome) => {
      const reply: WorkerReply = { id: m.id, outcome, rssMb: process.memoryUsage.rss() / 2 ** 20 };
      process.send!(reply);
    });
  });
  // The test process went away (killed, or the run cut short): nothing is left to answer to.
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

// Only when started by runner.ts: the test runner also executes this file, as it does every .js file.
if (process.env['MAMBA_TS_FUZZ_WORKER'] === '1' && process.send !== undefined) {
  void main();
}
