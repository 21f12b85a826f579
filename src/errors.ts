/**
 * Errors users see. Each names where the problem is (a file, an argument) and what was expected,
 * in the style `model.safetensors: backbone.layers.3.mixer.in_proj.weight: expected [3072, 768], got [768, 3072]`.
 */

/** A file or folder that cannot be read as what it claims to be (safetensors, config.json, tokenizer.json). */
export class FormatError extends Error {
  override name = 'FormatError';
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

/** A bad argument to a library function: wrong shape, out-of-range id, unknown option. */
export class ArgumentError extends Error {
  override name = 'ArgumentError';
}

/** Asking a backend for something it does not do. */
export class UnsupportedError extends Error {
  override name = 'UnsupportedError';
}

/**
 * The HuggingFace Hub could not give a repository's files (not found, access denied, unreachable,
 * not in the cache while offline). Names the repository, and the revision and file where known.
 */
export class HubError extends Error {
  override name = 'HubError';
  constructor(
    readonly repo: string,
    message: string,
    /** The HTTP status the Hub answered with, when it answered. */
    readonly status?: number,
  ) {
    super(`${repo}: ${message}`);
  }
}

/**
 * A file could not be written because its file system is full (ENOSPC) or over quota (EDQUOT).
 * Names the file (or folder), the bytes it needed and the bytes free; what was partly written has been removed.
 */
export class DiskFullError extends Error {
  override name = 'DiskFullError';
  constructor(
    readonly path: string,
    /** Bytes the write needed. */
    readonly needed: number,
    /** Bytes free for this user on that file system after the partial file was removed (NaN when unknown). */
    readonly free: number,
    /** The system's error code, 'ENOSPC' or 'EDQUOT'. */
    readonly code: string,
    /** What was cleaned up, for the message ("the partial file was removed"). */
    cleaned: string,
  ) {
    const short = Number.isFinite(free) && needed > free ? `; free at least ${formatBytes(needed - free)} and retry` : '';
    const have = Number.isFinite(free) ? `${formatBytes(free)} free there` : 'the free space is unknown';
    super(`${path}: no space left on the device (${code}): writing it needs ${formatBytes(needed)}, ${have}${short}; ${cleaned}`);
  }
}

/** 1536 → "1.50 KiB (1,536 bytes)": readable, and exact (the style of io/read-options.ts's describeBytes). */
function formatBytes(n: number): string {
  const exact = `${n.toLocaleString('en-US')} byte${n === 1 ? '' : 's'}`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u < 0 ? exact : `${v.toFixed(2)} ${units[u]} (${exact})`;
}

/** The loss (or the gradient norm) stopped being finite: training stops before saving anything. */
export class NonFiniteLossError extends Error {
  override name = 'NonFiniteLossError';
}
