/**
 * Progress reports of long loads, in the shape transformers.js's `progress_callback` uses
 * ({ status, file, loaded, total, progress }), so one callback can follow a whole load. Loading a
 * checkpoint's tensors reports `status: 'loading'`; other stages (e.g. downloads) add their statuses
 * to ProgressInfo.
 */

export interface LoadProgress {
  status: 'loading';
  /** The (shard) file the tensor just loaded came from. */
  file: string;
  /** Bytes of checkpoint tensors loaded so far, and in all. */
  loaded: number;
  total: number;
  /** loaded / total as a percentage, 0–100 (as transformers.js). */
  progress: number;
}

export type ProgressInfo = LoadProgress;

export type ProgressCallback = (info: ProgressInfo) => void;
