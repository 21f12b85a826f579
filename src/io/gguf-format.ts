/**
 * What the GGUF writer and reader share: the value and tensor type codes, limits, and the typed
 * metadata values. GGUF (version 3) is llama.cpp's model file: a header, typed key–value metadata,
 * a tensor table, then the tensor data, each tensor aligned (32 bytes unless `general.alignment`
 * says otherwise). Everything is little-endian.
 *
 * Shapes here are row-major, outermost dimension first, as in PyTorch and safetensors. GGUF's
 * tensor table lists dimensions innermost first (ggml's ne[0] is the contiguous one); the writer and
 * reader reverse them, so a [vocab, hidden] embedding appears in the file as {hidden, vocab}.
 */

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_ALIGNMENT_KEY = 'general.alignment';
/** ggml keeps tensor names in a 64-byte field with a terminating NUL. */
export const GGUF_MAX_TENSOR_NAME_BYTES = 63;
/** ggml tensors have at most four dimensions. */
export const GGUF_MAX_DIMS = 4;

/** Metadata value types (gguf_type), by the names this library uses. */
export const VALUE_TYPE_CODE = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

export type GgufScalarType = Exclude<keyof typeof VALUE_TYPE_CODE, 'array'>;
export type GgufScalar = number | bigint | boolean | string;

/**
 * A typed metadata value. GGUF readers check types exactly (llama.cpp refuses a u64 where it reads
 * a u32), so the type is always said: `{ type: 'u32', value: 768 }`. 64-bit integers may be given
 * as bigint or as a safe integer number; the reader returns numbers where they are safe integers.
 */
export type GgufValue =
  | { type: Exclude<GgufScalarType, 'bool' | 'string'>; value: number | bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufScalarType; value: readonly GgufScalar[] };

export const VALUE_TYPE_NAME: ReadonlyMap<number, GgufScalarType | 'array'> = new Map(
  Object.entries(VALUE_TYPE_CODE).map(([name, code]) => [code, name as GgufScalarType | 'array']),
);

/** Tensor element types this library writes and reads (ggml_type codes). Quantized types are listed by the reader only. */
export const TENSOR_TYPE_CODE = { f32: 0, f16: 1, bf16: 30 } as const;
export type GgufTensorType = keyof typeof TENSOR_TYPE_CODE;
export const TENSOR_TYPE_BYTES: Readonly<Record<GgufTensorType, number>> = { f32: 4, f16: 2, bf16: 2 };
export const TENSOR_TYPE_NAME: ReadonlyMap<number, GgufTensorType> = new Map(
  Object.entries(TENSOR_TYPE_CODE).map(([name, code]) => [code, name as GgufTensorType]),
);

/** `general.file_type` (llama_ftype) for a file whose large matrices are all of one type. */
export const FILE_TYPE_CODE: Readonly<Record<GgufTensorType, number>> = { f32: 0, f16: 1, bf16: 32 };

/** Token kinds in `tokenizer.ggml.token_type` (llama_token_type). */
export const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}
