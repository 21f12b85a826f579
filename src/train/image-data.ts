/**
 * Image-classification data: the IDX format of MNIST (LeCun et al.; big-endian header, then one
 * unsigned byte per pixel or label), gzip-compressed or not, and the split this project trains on.
 *
 *   images: magic 0x00000803, count, rows, cols (u32 each), then count·rows·cols bytes
 *   labels: magic 0x00000801, count (u32 each), then count bytes
 *
 * Only the 10,000 MNIST test images are available here (../shared/data/mnist), so training and
 * evaluation both come from them: `strideSplit` puts every 5th image (index ≡ 4 mod 5) in the test
 * set, 2,000 of 10,000, taking test images evenly from both halves of the file (its first 5,000
 * and last 5,000 come from different writer populations, NIST SD-3 and SD-1).
 */
import { ArgumentError, FormatError } from '../errors.js';
import { joinPath, readBytes } from '../io/platform.js';

/** Images channels-last (count, height, width, channels) as float32, with int32 labels. */
export interface ImageSet {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly count: number;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

const IMAGES_MAGIC = 0x00000803;
const LABELS_MAGIC = 0x00000801;

/** gzip is recognised by its first two bytes (1f 8b) and inflated; other bytes pass through. */
export async function gunzipIfNeeded(bytes: Uint8Array, source: string): Promise<Uint8Array> {
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (e) {
    throw new FormatError(source, `not a valid gzip file (${(e as Error).message})`);
  }
}

function header(bytes: Uint8Array, source: string, magic: number, words: number, what: string): number[] {
  if (bytes.length < 4 * words) throw new FormatError(source, `too short for an IDX ${what} header: ${bytes.length} bytes, expected at least ${4 * words}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const got = view.getUint32(0, false);
  if (got !== magic) {
    throw new FormatError(source, `not an IDX ${what} file: magic number 0x${got.toString(16).padStart(8, '0')}, expected 0x${magic.toString(16).padStart(8, '0')}`);
  }
  return Array.from({ length: words - 1 }, (_, i) => view.getUint32(4 * (i + 1), false));
}

/** Pixels (count, rows, cols) as bytes. */
export function parseIdxImages(bytes: Uint8Array, source: string): { count: number; rows: number; cols: number; pixels: Uint8Array } {
  const [count, rows, cols] = header(bytes, source, IMAGES_MAGIC, 4, 'images') as [number, number, number];
  const want = 16 + count * rows * cols;
  if (bytes.length !== want) throw new FormatError(source, `${count} images of ${rows}×${cols} need ${want} bytes, the file has ${bytes.length}`);
  return { count, rows, cols, pixels: bytes.subarray(16) };
}

export function parseIdxLabels(bytes: Uint8Array, source: string): Uint8Array {
  const [count] = header(bytes, source, LABELS_MAGIC, 2, 'labels') as [number];
  if (bytes.length !== 8 + count) throw new FormatError(source, `${count} labels need ${8 + count} bytes, the file has ${bytes.length}`);
  return bytes.subarray(8);
}

/**
 * An images file and its labels file (paths or URLs, gzip or not) as an ImageSet with pixels in
 * [0, 1]. Labels must be below `numClasses`.
 */
export async function loadIdxImageSet(imagesPath: string, labelsPath: string, numClasses = 10): Promise<ImageSet> {
  const img = parseIdxImages(await gunzipIfNeeded(await readBytes(imagesPath), imagesPath), imagesPath);
  const lab = parseIdxLabels(await gunzipIfNeeded(await readBytes(labelsPath), labelsPath), labelsPath);
  if (lab.length !== img.count) throw new FormatError(labelsPath, `${lab.length} labels for the ${img.count} images of ${imagesPath}`);
  const bad = lab.findIndex((l) => l >= numClasses);
  if (bad >= 0) throw new FormatError(labelsPath, `label ${lab[bad]} at index ${bad} is not below the ${numClasses} classes`);
  const images = Float32Array.from(img.pixels, (p) => p / 255);
  return { images, labels: Int32Array.from(lab), count: img.count, height: img.rows, width: img.cols, channels: 1 };
}

/** The MNIST test files in `dir` (t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]). */
export async function loadMnistTest(dir: string): Promise<ImageSet> {
  return loadIdxImageSet(joinPath(dir, 't10k-images-idx3-ubyte.gz'), joinPath(dir, 't10k-labels-idx1-ubyte.gz'));
}

/** The images at `indices`, in that order. */
export function subset(set: ImageSet, indices: readonly number[]): ImageSet {
  const per = set.height * set.width * set.channels;
  const images = new Float32Array(indices.length * per);
  indices.forEach((i, k) => images.set(set.images.subarray(i * per, (i + 1) * per), k * per));
  return { ...set, images, labels: Int32Array.from(indices, (i) => set.labels[i]!), count: indices.length };
}

/**
 * Every `every`-th image (index ≡ every-1 mod every) to test, the rest to train, up to the sizes
 * asked for: with every = 5 and 8,000/2,000 of MNIST's 10,000, indices 4, 9, 14, … are the test set.
 */
export function strideSplit(set: ImageSet, trainSize: number, testSize: number, every = 5): { train: ImageSet; test: ImageSet } {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < set.count; i++) (i % every === every - 1 ? test : train).push(i);
  if (trainSize > train.length || testSize > test.length) {
    throw new ArgumentError(`strideSplit: asked for ${trainSize} train / ${testSize} test images; a 1-in-${every} split of ${set.count} has ${train.length} / ${test.length}`);
  }
  return { train: subset(set, train.slice(0, trainSize)), test: subset(set, test.slice(0, testSize)) };
}
