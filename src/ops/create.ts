/** Making tensors from values. */
import { ArgumentError, UnsupportedError } from '../errors.js';
import { getBackend, type DeviceName } from '../backend/registry.js';
import { allocArray, isHalf, type DataArray, type DType, type HalfDType } from '../tensor/dtype.js';
import { checkShape, formatShape, sizeOf, type Shape } from '../tensor/shape.js';
import { StorageRef, Tensor } from '../tensor/tensor.js';

export interface CreateOptions {
  dtype?: DType;
  device?: DeviceName;
}

/** A tensor holding `values` (copied into the CPU heap; with the TypeScript kernels only, a typed array is used as is: do not modify it afterwards). */
export function tensor(values: DataArray | ArrayLike<number>, shape: Shape, o: CreateOptions = {}): Tensor {
  checkShape(shape, 'tensor');
  const dtype = o.dtype ?? (values instanceof Int32Array ? 'i32' : 'f32');
  if (isHalf(dtype)) throw new ArgumentError('tensor: bf16/f16 tensors are made from their bits with halfTensor()');
  if (values.length !== sizeOf(shape)) {
    throw new ArgumentError(`tensor: ${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
  }
  let data: DataArray;
  if (dtype === 'f32' && values instanceof Float32Array) data = values;
  else if (dtype === 'i32' && values instanceof Int32Array) data = values;
  else {
    data = allocArray(dtype, values.length);
    for (let i = 0; i < values.length; i++) data[i] = values[i]!;
  }
  const backend = getBackend(o.device);
  return new Tensor([...shape], dtype, new StorageRef(backend, backend.upload(data)));
}

/**
 * A bf16/f16 weight kept packed on a backend that unpacks halves inside its kernels (WebGPU, the
 * CPU's WebAssembly kernels); elsewhere an UnsupportedError (convert to float32 instead).
 */
export function halfTensor(bits: Uint16Array, shape: Shape, dtype: HalfDType, o: { device?: DeviceName } = {}): Tensor {
  checkShape(shape, 'halfTensor');
  if (bits.length !== sizeOf(shape)) {
    throw new ArgumentError(`halfTensor: ${bits.length} values do not fill shape ${formatShape(shape)}`);
  }
  const backend = getBackend(o.device);
  if (!backend.uploadHalf) throw new UnsupportedError(`${backend.name} keeps weights in float32; it has no ${dtype} storage`);
  return new Tensor([...shape], dtype, new StorageRef(backend, backend.uploadHalf(bits)));
}

export function zeros(shape: Shape, o: CreateOptions = {}): Tensor {
  checkShape(shape, 'zeros');
  const dtype = o.dtype ?? 'f32';
  if (isHalf(dtype)) throw new ArgumentError('zeros: bf16/f16 are storage-only dtypes');
  const backend = getBackend(o.device);
  return new Tensor([...shape], dtype, new StorageRef(backend, backend.alloc(dtype, sizeOf(shape))));
}

export function scalar(v: number, o: CreateOptions = {}): Tensor {
  return tensor([v], [], o);
}

/** Copies `t` to another device. */
export async function toDevice(t: Tensor, device: DeviceName): Promise<Tensor> {
  if (t.device === device) return t;
  return tensor(await t.data(), t.shape, { dtype: t.dtype, device });
}
