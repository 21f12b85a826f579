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

/** A download's progress from the Hub, reported per file. */
export interface DownloadProgress {
  /** 'download': a file starts downloading; 'progress': bytes arrived; 'done': it is in the cache. */
  status: 'download' | 'progress' | 'done';
  /** The repository id, e.g. 'state-spaces/mamba-130m-hf'. */
  repo: string;
  /** The file's path in the repository. */
  file: string;
  /** Bytes of the file in the cache so far (a resumed download starts above 0). */
  loaded: number;
  /** The file's size in bytes. */
  total: number;
  /** loaded / total, in percent. */
  progress: number;
}

export type ProgressInfo = LoadProgress | DownloadProgress;

export type ProgressCallback = (info: ProgressInfo) => void;
