/**
 * The compute worker: every model runs here, off the page's thread, so the tab never freezes
 * (Chromium offers navigator.gpu in dedicated workers too). One job at a time, in arrival order.
 */
import type { Job, JobRequest, JobResult, WorkerEvent } from './protocol.js';
import { runCopying } from './worker/copying.js';
import { pickDevice } from './worker/devices.js';
import { runForecast } from './worker/forecast.js';
import { runGenerate } from './worker/generate.js';
import { runSelection } from './worker/selection.js';
import { runTrain } from './worker/train.js';

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type Event = Distribute<WorkerEvent>;

const post = (e: WorkerEvent) => (self as unknown as Worker).postMessage(e);

async function run(job: Job, emit: (e: Event) => void): Promise<JobResult> {
  const used = await pickDevice(job.device);
  emit({ type: 'device', used });
  switch (job.kind) {
    case 'generate':
      return runGenerate(job, used, emit);
    case 'selection':
      return runSelection(job, used);
    case 'copying':
      return runCopying(job, used);
    case 'forecast':
      return runForecast(job, used);
    case 'train':
      return runTrain(job, used, emit);
  }
}

let queue: Promise<void> = Promise.resolve();
self.onmessage = (m: MessageEvent<JobRequest>) => {
  const { id, job } = m.data;
  const emit = (e: Event) => post({ ...e, id } as WorkerEvent);
  queue = queue.then(() =>
    run(job, emit).then(
      (result) => emit({ type: 'done', result }),
      (e: unknown) => emit({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
    ),
  );
};
