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
