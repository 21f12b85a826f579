import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fixture } from './helpers.js';
import { FormatError, ArgumentError } from '../src/errors.js';
import {
  SafetensorsFile,
  serializeSafetensors,
  f32ToBf16,
  bf16ToF32,
  f32ToF16,
  f16ToF32,
} from '../src/io/safetensors.js';
import type { SafetensorsDtype, TensorToWrite } from '../src/io/safetensors.js';

function load(...parts: string[]): { bytes: Uint8Array; file: SafetensorsFile } {
  const path = fixture(...parts);
  const buf = readFileSync(path);
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  return { bytes, file: SafetensorsFile.parse(bytes, path) };
}

/** Builds a file from a header (object or literal JSON text) and a data buffer, with no padding. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const SRC = 'bad.safetensors';

/** Asserts a FormatError whose message starts with the source and matches `re`. */
function throwsFormat(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FormatError, `expected FormatError, got ${String(e)}`);
    assert.ok(e.message.startsWith(`${SRC}: `), `message should name the source: ${e.message}`);
    assert.match(e.message, re);
    return true;
  });
}

function parseBad(bytes: Uint8Array): SafetensorsFile {
  return SafetensorsFile.parse(bytes, SRC);
}

const f32bits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

describe('reading fixtures', () => {
  test('mamba-tiny F32 model', () => {
    const { file } = load('hf', 'mamba-tiny', 'model', 'model.safetensors');
    assert.equal(file.names().length, 22);
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.ok(file.has('backbone.layers.0.mixer.A_log'));
    assert.ok(!file.has('backbone.layers.2.mixer.A_log'));
    const e = file.entry('backbone.layers.0.mixer.A_log');
    assert.equal(e.dtype, 'F32');
    assert.deepEqual(e.shape, [128, 16]);
    assert.equal(e.byteOffset, 8 + 2208 + 131072);
    assert.equal(e.byteLength, 128 * 16 * 4);
    const a = file.toFloat32('backbone.layers.0.mixer.A_log');
    assert.equal(a.length, 2048);
    assert.equal(a[0], Math.fround(-0.046458300203084946));
    assert.equal(a[1], Math.fround(0.6411415934562683));
    assert.equal(a[2047], Math.fround(2.812488317489624));
    assert.equal(file.raw('backbone.layers.0.mixer.A_log').length, 8192);
    const a64 = file.toFloat64('backbone.layers.0.mixer.A_log');
    assert.deepEqual(Array.from(a64), Array.from(a));
  });

  test('mamba-tiny-bf16 BF16 model', () => {
    const { file } = load('hf', 'mamba-tiny-bf16', 'model', 'model.safetensors');
    assert.equal(file.names().length, 22);
    const e = file.entry('backbone.layers.0.mixer.A_log');
    assert.equal(e.dtype, 'BF16');
    assert.equal(e.byteLength, 128 * 16 * 2);
    const a = file.toFloat32('backbone.layers.0.mixer.A_log');
    assert.deepEqual(Array.from(a.subarray(0, 4)), [-0.05859375, 0.609375, 1.09375, 1.40625]);
  });

  test('expected.safetensors F64 logits and integer-valued tokens', () => {
    const { file } = load('hf', 'mamba-tiny', 'expected.safetensors');
    assert.deepEqual(file.metadata, {});
    const e = file.entry('logits');
    assert.equal(e.dtype, 'F64');
    assert.deepEqual(e.shape, [2, 24, 512]);
    const logits = file.toFloat64('logits');
    assert.equal(logits.length, 2 * 24 * 512);
    assert.equal(logits[0], -1.706118106842041);
    assert.equal(logits[2], -0.7787131071090698);
    assert.equal(logits[logits.length - 1], -0.18939991295337677);
    assert.equal(file.toFloat32('logits')[0], Math.fround(-1.706118106842041));
    assert.deepEqual(Array.from(file.toInt32('generated').subarray(0, 4)), [331, 155, 390, 253]);
    assert.equal(file.toFloat64('loss')[0], Math.fround(6.883026123046875));
  });

  test('re-serializing a fixture reproduces it byte for byte', () => {
    for (const parts of [
      ['hf', 'mamba-tiny', 'model', 'model.safetensors'],
      ['hf', 'mamba-tiny', 'expected.safetensors'],
    ]) {
      const { bytes, file } = load(...parts);
      const tensors: Record<string, TensorToWrite> = {};
      for (const n of file.names()) {
        const e = file.entry(n);
        tensors[n] = { dtype: e.dtype, shape: e.shape, data: file.raw(n) };
      }
      const meta = Object.keys(file.metadata).length > 0 ? file.metadata : undefined;
      assert.deepEqual(serializeSafetensors(tensors, meta), bytes);
    }
  });

  test('unaligned data is copied into aligned arrays', () => {
    const bytes = serializeSafetensors({
      a: { dtype: 'U8', shape: [1], data: new Uint8Array([7]) },
      b: { dtype: 'F64', shape: [2], data: new Float64Array([1.5, -2.25]) },
    });
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const file = parseBad(shifted.subarray(1));
    assert.equal(file.entry('b').byteOffset % 8, 1); // offset 1 within a view at offset 1 of the buffer
    assert.deepEqual(Array.from(file.toFloat64('b')), [1.5, -2.25]);
    assert.deepEqual(Array.from(file.toFloat32('b')), [1.5, -2.25]);
  });

  test('entry of an unknown name is a FormatError', () => {
    const file = parseBad(serializeSafetensors({}));
    throwsFormat(() => file.entry('nope'), /no tensor named "nope"/);
  });
});

describe('writing', () => {
  const cases: Record<SafetensorsDtype, TensorToWrite['data']> = {
    F64: new Float64Array([1.5, -0, Infinity, NaN, 1e-310, 3]),
    F32: new Float32Array([1.5, -0, Infinity, NaN, 1e-40, 3]),
    F16: new Uint16Array([0x3c00, 0x8000, 0x7c00, 0x7e01, 0x0001, 0x7bff]),
    BF16: new Uint16Array([0x3f80, 0x8000, 0x7f80, 0x7fc1, 0x0001, 0x7f7f]),
    I64: new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 5n, 6n]),
    I32: new Int32Array([0, -1, 2147483647, -2147483648, 5, 6]),
    I16: new Int16Array([0, -1, 32767, -32768, 5, 6]),
    I8: new Int8Array([0, -1, 127, -128, 5, 6]),
    U64: new BigUint64Array([0n, 2n ** 64n - 1n, 2n, 3n, 4n, 5n]),
    U32: new Uint32Array([0, 4294967295, 2, 3, 4, 5]),
    U16: new Uint16Array([0, 65535, 2, 3, 4, 5]),
    U8: new Uint8Array([0, 255, 2, 3, 4, 5]),
    BOOL: new Uint8Array([0, 1, 1, 0, 1, 0]),
  };

  test('round trip is bit-identical for every dtype', () => {
    const tensors: Record<string, TensorToWrite> = {};
    for (const [dtype, data] of Object.entries(cases)) {
      tensors[`t.${dtype}`] = { dtype: dtype as SafetensorsDtype, shape: [2, 3], data };
    }
    tensors['empty'] = { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) };
    tensors['scalar'] = { dtype: 'F32', shape: [], data: new Float32Array([42]) };
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'ü' });
    const file = parseBad(bytes);
    assert.deepEqual(file.metadata, { format: 'pt', note: 'ü' });
    for (const [name, t] of Object.entries(tensors)) {
      const e = file.entry(name);
      assert.equal(e.dtype, t.dtype, name);
      assert.deepEqual(e.shape, t.shape, name);
      const want = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
      assert.deepEqual(file.raw(name), want, name);
    }
    assert.deepEqual(Array.from(file.toFloat32('t.F16')).slice(0, 3), [1, -0, Infinity]);
    assert.deepEqual(Array.from(file.toInt32('t.I16')), [0, -1, 32767, -32768, 5, 6]);
    assert.deepEqual(Array.from(file.toFloat64('t.U32')), [0, 4294967295, 2, 3, 4, 5]);
    assert.equal(file.toFloat32('scalar')[0], 42);
  });

  test('output is deterministic, sorted, and its data is 8-byte aligned', () => {
    const a = { dtype: 'F32' as const, shape: [1], data: new Float32Array([1]) };
    const b = { dtype: 'I8' as const, shape: [3], data: new Int8Array([1, 2, 3]) };
    const one = serializeSafetensors({ b, a, '10': a, '9': b });
    const two = serializeSafetensors({ a, '9': b, b, '10': a });
    assert.deepEqual(one, two);
    const n = Number(new DataView(one.buffer).getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0);
    const header = new TextDecoder().decode(one.subarray(8, 8 + n));
    assert.equal(
      header.trimEnd(),
      '{"10":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"9":{"dtype":"I8","shape":[3],"data_offsets":[4,7]},' +
        '"a":{"dtype":"F32","shape":[1],"data_offsets":[7,11]},"b":{"dtype":"I8","shape":[3],"data_offsets":[11,14]}}',
    );
    assert.deepEqual(parseBad(one).names(), ['10', '9', 'a', 'b']);
  });

  test('bad tensors to write are ArgumentErrors naming the tensor', () => {
    assert.throws(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(3) } }),
      (e: unknown) => e instanceof ArgumentError && /^w: F32 \[2, 2\] needs 16 bytes, data has 12/.test(e.message),
    );
    assert.throws(
      () => serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Int32Array(2) } }),
      (e: unknown) => e instanceof ArgumentError && /^w: dtype F32 needs a Float32Array/.test(e.message),
    );
    assert.throws(
      () => serializeSafetensors({ __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }),
      (e: unknown) => e instanceof ArgumentError && /reserved/.test(e.message),
    );
  });
});

describe('half-precision conversions', () => {
  const bf16 = (bits: number): number => f32ToBf16(new Float32Array([f32bits(bits)]))[0]!;
  const f16 = (x: number): number => f32ToF16(new Float32Array([x]))[0]!;

  test('f32 -> bf16 rounds to nearest even and keeps inf, nan, signed zero', () => {
    assert.equal(bf16(0x3f800000), 0x3f80);
    assert.equal(bf16(0x3f808000), 0x3f80); // tie, even stays
    assert.equal(bf16(0x3f818000), 0x3f82); // tie, odd rounds up
    assert.equal(bf16(0x3f808001), 0x3f81);
    assert.equal(bf16(0x3f807fff), 0x3f80);
    assert.equal(bf16(0x7f800000), 0x7f80);
    assert.equal(bf16(0xff800000), 0xff80);
    assert.equal(bf16(0x7f7fffff), 0x7f80); // max float rounds to inf
    assert.equal(bf16(0x80000000), 0x8000);
    assert.equal(bf16(0x00000001), 0x0000); // tiny subnormal
    assert.equal(bf16(0x00018000), 0x0002); // subnormal tie, odd rounds up
    const nan = bf16(0x7f800001); // a NaN whose payload would round away
    assert.equal(nan & 0x7f80, 0x7f80);
    assert.notEqual(nan & 0x7f, 0);
    assert.ok(Number.isNaN(bf16ToF32(new Uint16Array([nan]))[0]));
  });

  test('bf16 -> f32 -> bf16 is the identity for every non-NaN bf16', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToBf16(bf16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0) continue;
      if (back[h] !== h) assert.fail(`bf16 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });

  test('f32 -> f16 rounds to nearest even with subnormals and overflow', () => {
    assert.equal(f16(1), 0x3c00);
    assert.equal(f16(-2), 0xc000);
    assert.equal(f16(1 + 2 ** -11), 0x3c00); // tie, even stays
    assert.equal(f16(1 + 3 * 2 ** -11), 0x3c02); // tie, odd rounds up
    assert.equal(f16(65504), 0x7bff);
    assert.equal(f16(65519), 0x7bff);
    assert.equal(f16(65520), 0x7c00); // tie to even is inf
    assert.equal(f16(1e6), 0x7c00);
    assert.equal(f16(-Infinity), 0xfc00);
    assert.equal(f16(2 ** -14), 0x0400); // smallest normal
    assert.equal(f16(2 ** -24), 0x0001); // smallest subnormal
    assert.equal(f16(1023 * 2 ** -24), 0x03ff);
    assert.equal(f16(2 ** -25), 0x0000); // tie to even is zero
    assert.equal(f16(1.5 * 2 ** -25), 0x0001);
    assert.equal(f16(3 * 2 ** -25), 0x0002); // tie, odd rounds up
    assert.equal(f16(2 ** -14 - 2 ** -25), 0x0400); // rounds up into the normals
    assert.equal(f16(1e-10), 0x0000);
    assert.equal(f16(-0), 0x8000);
    assert.equal(f16(NaN) & 0x7e00, 0x7e00);
  });

  test('f16 -> f32 decodes subnormals, inf, nan, signed zero', () => {
    const f = (h: number): number => f16ToF32(new Uint16Array([h]))[0]!;
    assert.equal(f(0x0001), 2 ** -24);
    assert.equal(f(0x03ff), 1023 * 2 ** -24);
    assert.equal(f(0x0400), 2 ** -14);
    assert.equal(f(0x7bff), 65504);
    assert.equal(f(0xc000), -2);
    assert.equal(f(0x7c00), Infinity);
    assert.equal(f(0xfc00), -Infinity);
    assert.ok(Number.isNaN(f(0x7e00)));
    assert.ok(Object.is(f(0x8000), -0));
  });

  test('f16 -> f32 -> f16 is the identity for every non-NaN f16', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = f32ToF16(f16ToF32(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue;
      if (back[h] !== h) assert.fail(`f16 0x${h.toString(16)} came back as 0x${back[h]!.toString(16)}`);
    }
  });
});

describe('bad input is a FormatError naming the source and the problem', () => {
  const good = { w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  const data8 = new Uint8Array(8);

  test('file shorter than 8 bytes', () => {
    throwsFormat(() => parseBad(new Uint8Array(5)), /file is 5 bytes, too short/);
    throwsFormat(() => parseBad(new Uint8Array(0)), /file is 0 bytes, too short/);
  });

  test('header length larger than the file', () => {
    const bytes = build(good, data8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    throwsFormat(() => parseBad(bytes), /header length \d+ is larger than the file/);
  });

  test('absurd header length', () => {
    const bytes = build(good, data8);
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    throwsFormat(() => parseBad(bytes), /header length 9223372036854775808 is absurd/);
  });

  test('header not valid JSON', () => {
    throwsFormat(() => parseBad(build('{"w": }', data8)), /not valid JSON/);
    throwsFormat(() => parseBad(build('{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, }', data8)), /not valid JSON/);
    throwsFormat(() => parseBad(build('', data8)), /header is empty/);
  });

  test('a JSON syntax error does not quote the header', () => {
    throwsFormat(() => parseBad(build('{"secret-token-abc": x}', data8)), /^bad\.safetensors: not valid JSON(?!.*secret)/);
  });

  test('header not valid UTF-8', () => {
    const bytes = build('{"\u00ff":1}');
    bytes[10] = 0xff; // a lone 0xff byte can never occur in UTF-8
    throwsFormat(() => parseBad(bytes), /header is not valid UTF-8/);
  });

  test('header not an object', () => {
    throwsFormat(() => parseBad(build([1, 2])), /header must start with "\{" \(0x7b\), but its first byte is 0x5b/);
    throwsFormat(() => parseBad(build('null')), /first byte is 0x6e/);
    throwsFormat(() => parseBad(build('3')), /first byte is 0x33/);
  });

  test('entry not an object', () => {
    throwsFormat(() => parseBad(build({ w: [1] })), /w: entry must be an object/);
  });

  test('entry missing dtype, shape or data_offsets', () => {
    throwsFormat(() => parseBad(build({ w: { shape: [2], data_offsets: [0, 8] } }, data8)), /w: entry is missing "dtype"/);
    throwsFormat(() => parseBad(build({ w: { dtype: 'F32', data_offsets: [0, 8] } }, data8)), /w: entry is missing "shape"/);
    throwsFormat(() => parseBad(build({ w: { dtype: 'F32', shape: [2] } }, data8)), /w: entry is missing "data_offsets"/);
  });

  test('dtype of the wrong type', () => {
    throwsFormat(() => parseBad(build({ w: { dtype: 4, shape: [2], data_offsets: [0, 8] } }, data8)), /w: "dtype" must be a string, got 4/);
  });

  test('unknown dtype, listing the known ones', () => {
    throwsFormat(
      () => parseBad(build({ w: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data8)),
      /w: unknown dtype "F8_E4M3"; known dtypes: F64, F32, F16, BF16, I64, I32/,
    );
  });

  test('shape not an array of non-negative integers', () => {
    const bad = (shape: unknown) => parseBad(build({ w: { dtype: 'F32', shape, data_offsets: [0, 8] } }, data8));
    throwsFormat(() => bad([2, -1]), /w: "shape" must be an array of non-negative integers, got \[2,-1\]/);
    throwsFormat(() => bad([1.5]), /w: "shape" must be .* got \[1\.5\]/);
    throwsFormat(() => bad('2'), /w: "shape" must be .* got "2"/);
    throwsFormat(() => bad([null]), /w: "shape" must be .* got \[null\]/);
  });

  test('data_offsets not [begin, end] with begin <= end', () => {
    const bad = (data_offsets: unknown) => parseBad(build({ w: { dtype: 'F32', shape: [2], data_offsets } }, data8));
    const re = /w: "data_offsets" must be \[begin, end\] with integers 0 <= begin <= end, got/;
    throwsFormat(() => bad([8, 0]), re);
    throwsFormat(() => bad([0]), re);
    throwsFormat(() => bad([0, 8, 9]), re);
    throwsFormat(() => bad([-1, 7]), re);
    throwsFormat(() => bad({ begin: 0, end: 8 }), re);
    throwsFormat(() => bad(['0', '8']), re);
  });

  test('data_offsets outside the data buffer', () => {
    throwsFormat(
      () => parseBad(build({ w: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data8)),
      /w: data_offsets \[0, 16\] run past the end of the data buffer \(8 bytes\)/,
    );
    // Huge offsets must not allocate or wrap around.
    throwsFormat(
      () => parseBad(build({ w: { dtype: 'F32', shape: [2 ** 50], data_offsets: [0, 2 ** 52] } }, data8)),
      /run past the end of the data buffer/,
    );
  });

  test('byte length differs from shape times item size', () => {
    throwsFormat(
      () => parseBad(build({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data8)),
      /w: F32 \[3\] needs 12 bytes, but data_offsets \[0, 8\] span 8/,
    );
    throwsFormat(
      () => parseBad(build({ w: { dtype: 'BF16', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, data8)),
      /w: BF16 \[1099511627776, 1099511627776\] needs \d.* bytes/,
    );
  });

  test('__metadata__ not an object of strings', () => {
    throwsFormat(() => parseBad(build({ __metadata__: { format: 1 } })), /__metadata__: value of "format" must be a string, got 1/);
    throwsFormat(() => parseBad(build({ __metadata__: ['pt'] })), /__metadata__ must be an object of strings, got an array/);
  });

  test('toInt32 of out-of-range or fractional values', () => {
    const file = parseBad(
      serializeSafetensors({
        big: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n ** 31n]) },
        frac: { dtype: 'F64', shape: [1], data: new Float64Array([0.5]) },
        ok: { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 31n), 2n ** 31n - 1n]) },
      }),
    );
    throwsFormat(() => file.toInt32('big'), /big: value 2147483648 at index 1 is not a 32-bit integer \(dtype I64/);
    throwsFormat(() => file.toInt32('frac'), /frac: value 0.5 at index 0 is not a 32-bit integer/);
    assert.deepEqual(Array.from(file.toInt32('ok')), [-2147483648, 2147483647]);
  });
});

/** The header length stored in the first 8 bytes. */
function headerLength(bytes: Uint8Array): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
}

/** A copy of `bytes` with the stored header length changed by `delta` (nothing else moves). */
function withHeaderLength(bytes: Uint8Array, delta: number): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength(bytes) + delta), true);
  return out;
}

describe('the format rules that used to load silently (issue 14)', () => {
  const data8 = new Uint8Array(8);
  const f32 = (b: number, e: number, n = (e - b) / 4) => ({ dtype: 'F32', shape: [n], data_offsets: [b, e] });

  test('a tensor name given twice', () => {
    const header = '{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    throwsFormat(() => parseBad(build(header, data8)), /^bad\.safetensors: w: tensor name appears twice/);
  });

  test('a tensor name given twice, once with escapes', () => {
    const header = '{"ab":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a\\u0062":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}';
    throwsFormat(() => parseBad(build(header, data8)), /ab: tensor name appears twice/);
  });

  test('__metadata__ given twice, and a key given twice inside an entry', () => {
    throwsFormat(() => parseBad(build('{"__metadata__":{},"__metadata__":{"a":"b"}}')), /"__metadata__" appears twice/);
    const header = '{"w":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}}';
    throwsFormat(() => parseBad(build(header, data8)), /w: key "dtype" appears twice in the same object/);
  });

  test('overlapping data ranges', () => {
    throwsFormat(() => parseBad(build({ a: f32(0, 8), b: f32(4, 8, 1) }, data8)), /b: data_offsets \[4, 8\] overlap those of "a" \[0, 8\]/);
    throwsFormat(() => parseBad(build({ a: f32(0, 8), b: f32(0, 8) }, data8)), /b: data_offsets \[0, 8\] overlap those of "a" \[0, 8\]/);
    // An empty tensor inside another's bytes overlaps too.
    throwsFormat(() => parseBad(build({ a: f32(0, 8), e: f32(4, 4) }, data8)), /e: data_offsets \[4, 4\] overlap those of "a"/);
  });

  test('a gap between data ranges, or before the first', () => {
    throwsFormat(() => parseBad(build({ a: f32(0, 4), b: f32(8, 12) }, new Uint8Array(12))), /b: data_offsets \[8, 12\] leave a gap: the previous tensor \("a"\) ends at 4, so 4 bytes belong to no tensor/);
    throwsFormat(() => parseBad(build({ a: f32(4, 8) }, data8)), /a: data_offsets \[4, 8\] leave a gap: the data section starts at 0/);
  });

  test('trailing bytes after the last tensor', () => {
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    throwsFormat(() => parseBad(longer), /3 bytes after the tensors' data: the data section is 11 bytes but the last tensor \("w"\) ends at 8/);
    throwsFormat(() => parseBad(build({}, new Uint8Array(1))), /1 bytes after the tensors' data: .* the file has no tensors/);
  });

  test('a header length off by one, in both directions, with padding spaces', () => {
    const good = serializeSafetensors({ w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    assert.equal(good[8 + headerLength(good) - 1], 0x20, 'the writer pads this header');
    // One shorter: the last padding space becomes data, which then has a byte no tensor owns.
    throwsFormat(() => parseBad(withHeaderLength(good, -1)), /1 bytes after the tensors' data/);
    // One longer: the first data byte (0x00 here) becomes part of the header.
    throwsFormat(() => parseBad(withHeaderLength(good, +1)), /header must end with its JSON object's "\}" followed only by spaces \(0x20\), but byte \d+ of the \d+-byte header is 0x00; is the header length \(\d+\) wrong\?/);
  });

  test('a header length off by one, in both directions, without padding', () => {
    const header = { w: { dtype: 'U8', shape: [4], data_offsets: [0, 4] } };
    const spaceFirst = build(header, new Uint8Array([0x20, 1, 2, 3]));
    assert.equal(parseBad(spaceFirst).raw('w')[0], 0x20);
    // The header loses its closing brace.
    throwsFormat(() => parseBad(withHeaderLength(spaceFirst, -1)), /not valid JSON/);
    // The header takes a data byte that is a space: the framing passes, the layout does not.
    throwsFormat(() => parseBad(withHeaderLength(spaceFirst, +1)), /w: data_offsets \[0, 4\] run past the end of the data buffer \(3 bytes\)/);
  });

  test('a header length off by one in a real model (every logit was NaN)', () => {
    const { bytes } = load('hf', 'mamba-tiny', 'model', 'model.safetensors');
    for (const delta of [-1, 1, -8, 8]) {
      assert.throws(() => parseBad(withHeaderLength(bytes, delta)), FormatError, `header length ${delta > 0 ? '+' : ''}${delta}`);
    }
  });

  test('a byte-order mark before the header', () => {
    const json = new TextEncoder().encode(JSON.stringify({ w: f32(0, 8) }));
    const bom = build('\ufeff' + JSON.stringify({ w: f32(0, 8) }), data8);
    assert.equal(headerLength(bom), json.length + 3);
    throwsFormat(() => parseBad(bom), /header starts with a UTF-8 byte-order mark/);
  });

  test('whitespace before the header, or other than spaces after it', () => {
    throwsFormat(() => parseBad(build(' {}')), /header must start with "\{" \(0x7b\), but its first byte is 0x20/);
    throwsFormat(() => parseBad(build('{}\n')), /byte 2 of the 3-byte header is 0x0a/);
    throwsFormat(() => parseBad(build('{}\t  ')), /byte 2 of the 5-byte header is 0x09/);
    assert.deepEqual(parseBad(build('{ "w" :\n\t{"dtype":"F32","shape":[2],"data_offsets":[0,8]} }   ', data8)).names(), ['w']);
  });

  test('empty tensors may share an offset', () => {
    const file = parseBad(build({ a: f32(0, 0), b: f32(0, 8), c: f32(8, 8), d: f32(8, 8) }, data8));
    assert.deepEqual(file.names(), ['a', 'b', 'c', 'd']);
  });

  test('names such as __proto__ and constructor are tensors like any other', () => {
    const tensors: Record<string, TensorToWrite> = Object.fromEntries(
      ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '10'].map((n, i) => [n, { dtype: 'I32', shape: [1], data: new Int32Array([i]) }]),
    );
    const bytes = serializeSafetensors(tensors, Object.fromEntries([['__proto__', 'x'], ['constructor', 'y']]));
    const file = parseBad(bytes);
    assert.deepEqual(file.names().sort(), Object.keys(tensors).sort());
    assert.deepEqual(Array.from(file.toInt32('__proto__')), [0]);
    assert.deepEqual(Array.from(file.toInt32('constructor')), [1]);
    assert.equal(Object.getPrototypeOf(file.metadata), Object.prototype);
    assert.deepEqual(Object.keys(file.metadata), ['__proto__', 'constructor']);
    assert.equal(Object.getOwnPropertyDescriptor(file.metadata, '__proto__')?.value, 'x');
    assert.equal(file.has('valueOf'), false);
    throwsFormat(() => file.entry('valueOf'), /no tensor named "valueOf"/);
    // A duplicate __proto__ is caught like any other name.
    const dup = '{"__proto__":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},"__proto__":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}';
    throwsFormat(() => parseBad(build(dup)), /__proto__: tensor name appears twice/);
  });
});

/** The repository root (tests run from dist/test/). */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('every safetensors file in the repository and the shared fixtures follows the rules', () => {
  const roots = [fixture(), join(REPO, 'models')];
  const files = roots.flatMap((root) => readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.safetensors')).map((f) => join(root, f)));

  test('there are files to check', () => {
    assert.ok(files.length >= 14, `found ${files.length}`);
  });

  for (const path of files) {
    test(path, () => {
      const buf = readFileSync(path);
      const file = SafetensorsFile.parse(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
      assert.ok(file.names().length > 0);
    });
  }
});
