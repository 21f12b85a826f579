/**
 * Recording GPU work: every kernel launch goes into one command encoder (one compute pass while
 * possible) and is submitted only when values are read back, data is uploaded, or the batch grows
 * large. Uniforms of a batch live in one buffer, written just before the submit.
 *
 * Work can also be recorded once and replayed (LaunchGraph), as CUDA graphs: a decode step's
 * launches are the same every token, and replaying them skips all the JavaScript that chose them.
 */
import { envSwitch } from '../../env.js';
import { UnsupportedError } from '../../errors.js';
import { BufferPool } from './buffer-pool.js';

export const WG = 256; // threads per workgroup for 1-D kernels

export interface Kernel {
  /** Unique per WGSL variant: pipelines are cached by it. */
  key: string;
  code: () => string;
}

/**
 * Memoises a kernel factory's result by key, so that hot paths do not build a new Kernel (and its
 * key string) on every launch.
 */
const kernelCache = new Map<string, Kernel>();
export function cachedKernel(key: string, make: () => Kernel): Kernel {
  let k = kernelCache.get(key);
  if (!k) {
    k = make();
    kernelCache.set(key, k);
  }
  return k;
}

const UNIFORM_ALIGN = 256;
const UNIFORM_CAPACITY = 256 * 1024;
const MAX_DISPATCHES_PER_SUBMIT = 1024;
/**
 * Launches recorded one by one are submitted once there are SUBMIT_EVERY of them carrying at least
 * SUBMIT_WORKGROUPS workgroups, so that the GPU starts on a long forward (a prefill, a backward:
 * hundreds of large launches) while the host still records the rest of it, instead of after the
 * host's whole recording. Small launches (a decode step's) are left to batch up to
 * MAX_DISPATCHES_PER_SUBMIT: there a submit costs more than it gains. Replays (LaunchGraph) go by
 * MAX_DISPATCHES_PER_SUBMIT. MAMBA_TS_SUBMIT_EVERY overrides the count, for benchmarking.
 */
const SUBMIT_EVERY = (() => {
  const env = Number(envSwitch('MAMBA_TS_SUBMIT_EVERY'));
  return Number.isInteger(env) && env > 0 ? env : 64;
})();
const SUBMIT_WORKGROUPS = 1 << 18;
const BIND_GROUP_CACHE = 8192;
/** Uniform buffers of disposed LaunchGraphs kept for later recordings (256 KiB each). */
const GRAPH_UNIFORMS_KEPT = 16;

/**
 * A kernel launch of a LaunchGraph; offsets: its uniforms' dynamic offset, as setBindGroup takes
 * it (made once, not per replay), or null without uniforms.
 */
export interface GraphLaunch {
  kind: 'dispatch';
  key: string;
  pipe: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  offsets: [number] | null;
  groups: [number, number, number];
}

/** A command of a LaunchGraph. */
type GraphCommand =
  | GraphLaunch
  | { kind: 'copy'; src: GPUBuffer; srcOffset: number; dst: GPUBuffer; dstOffset: number; bytes: number }
  | { kind: 'clear'; buffer: GPUBuffer; bytes: number };

/**
 * Recorded work (GpuContext.beginGraph … endGraph) that can be replayed any number of times. It
 * owns its uniforms (in a buffer of its own) and every buffer released while it was recorded, so
 * none of the buffers its commands name is reused by other work while it lives. Its inputs and
 * outputs are the buffers that outlive the recording; they must outlive the graph too.
 */
export class LaunchGraph {
  readonly commands: GraphCommand[] = [];
  /** Buffers released during the recording: the graph's temporaries, kept from the pool. */
  readonly held: GPUBuffer[] = [];
  /**
   * The graph's uniforms: one buffer of UNIFORM_CAPACITY per 1024 launches with uniforms (a deep
   * model's decode step, e.g. Jamba's op-by-op Mamba layers, can need more than one), with their
   * host copies; the last one is being filled.
   */
  readonly uniformBuffers: GPUBuffer[] = [];
  readonly uniformStagings: Uint8Array[] = [];
  uniformUsed = 0;
  /** Why the recording cannot be replayed (host uploads or reads are not part of it), if so. */
  invalid: string | null = null;
  disposed = false;
  /** newUniformBuffer: a buffer of UNIFORM_CAPACITY bytes (GpuContext hands out disposed graphs'). */
  constructor(private readonly newUniformBuffer: () => GPUBuffer) {
    this.addUniformBuffer();
  }
  get uniformBuffer(): GPUBuffer {
    return this.uniformBuffers[this.uniformBuffers.length - 1]!;
  }
  get uniformStaging(): Uint8Array {
    return this.uniformStagings[this.uniformStagings.length - 1]!;
  }
  /** Starts filling a new uniform buffer (the previous ones are full). */
  addUniformBuffer(): void {
    this.uniformBuffers.push(this.newUniformBuffer());
    this.uniformStagings.push(new Uint8Array(UNIFORM_CAPACITY));
    this.uniformUsed = 0;
  }
}

export class GpuContext {
  readonly pool: BufferPool;
  private pipelines = new Map<string, { pipe: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private uniformBuffer: GPUBuffer;
  private uniformStaging = new Uint8Array(UNIFORM_CAPACITY);
  private uniformUsed = 0;
  private dispatches = 0;
  /** Launches of this batch recorded one by one (not replayed), and their workgroups. */
  private recorded = 0;
  private recordedWorkgroups = 0;
  private firstError: string | null = null;
  private bindGroups = new Map<string, GPUBindGroup>();
  /** Counters for profiling (bench/gpu-step.ts). */
  readonly stats = { bindGroupHits: 0, bindGroupMisses: 0, submits: 0, submitMs: 0, encoders: 0, encoderMs: 0 };
  private ids = new WeakMap<GPUBuffer, number>();
  private nextId = 1;
  /** Buffers to destroy after the next submit. */
  private retired: GPUBuffer[] = [];
  readonly maxBinding: number;
  /** The graph being recorded, if any. */
  private graph: LaunchGraph | null = null;
  /**
   * Uniform buffers of disposed graphs, for the next recordings: a generation records its decode
   * step anew, and with the same uniform buffer (and the same temporaries, see disposeGraph) its
   * launches find their bind groups in the cache instead of creating them (most of a recording's
   * host time). Those of graphs disposed while recorded work is open wait for its submit
   * (graphUniformsAfterSubmit): a new graph's uniforms, written before that submit, would
   * otherwise replace the values the open work reads.
   */
  private graphUniforms: GPUBuffer[] = [];
  private graphUniformsAfterSubmit: GPUBuffer[] = [];

  constructor(readonly device: GPUDevice) {
    this.pool = new BufferPool(device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST);
    this.uniformBuffer = device.createBuffer({ size: UNIFORM_CAPACITY, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.maxBinding = device.limits.maxStorageBufferBindingSize;
    device.addEventListener('uncapturederror', (ev) => {
      this.firstError ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
  }

  /** A storage buffer of at least `bytes`, checked against the binding limit. */
  buffer(bytes: number, what: string): GPUBuffer {
    if (bytes > this.maxBinding) {
      throw new UnsupportedError(
        `webgpu: ${what} needs ${bytes} bytes, more than this adapter's maxStorageBufferBindingSize (${this.maxBinding}); use the CPU or a smaller shape`,
      );
    }
    return this.pool.acquire(bytes, this.maxBinding);
  }

  /**
   * Returns a buffer to the pool at once, even if recorded work still reads it: a later kernel that
   * reuses it runs after that work (queue order, with barriers between dispatches), and host writes
   * go through write(), which submits the recorded work first.
   */
  release(b: GPUBuffer): void {
    if (this.graph) {
      this.graph.held.push(b); // a temporary of the graph: its replays write it again
      return;
    }
    // What the pool does not keep is destroyed, but only once the recorded work that may use it has been submitted.
    for (const gone of this.pool.release(b)) {
      if (this.encoder) this.retired.push(gone);
      else gone.destroy();
    }
  }

  private getEncoder(): GPUCommandEncoder {
    if (!this.encoder) {
      // Timed: Dawn does its housekeeping for finished work here, which can take milliseconds.
      const t0 = performance.now();
      this.encoder = this.device.createCommandEncoder();
      this.stats.encoders++;
      this.stats.encoderMs += performance.now() - t0;
    }
    return this.encoder;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /**
   * Pipelines with explicit layouts read off the WGSL bindings: the uniform binding takes a dynamic
   * offset, so one bind group serves a launch wherever its uniforms sit in the batch's buffer.
   */
  private pipeline(k: Kernel): { pipe: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let p = this.pipelines.get(k.key);
    if (!p) {
      const code = k.code();
      const entries: GPUBindGroupLayoutEntry[] = [];
      for (const m of code.matchAll(/@binding\((\d+)\)\s*var<(storage|uniform)(?:\s*,\s*(read_write|read))?>/g)) {
        const type: GPUBufferBindingType = m[2] === 'uniform' ? 'uniform' : m[3] === 'read_write' ? 'storage' : 'read-only-storage';
        entries.push({ binding: Number(m[1]), visibility: GPUShaderStage.COMPUTE, buffer: { type, hasDynamicOffset: type === 'uniform' } });
      }
      const layout = this.device.createBindGroupLayout({ entries, label: k.key });
      const module = this.device.createShaderModule({ code, label: k.key });
      const pipe = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
        label: k.key,
      });
      p = { pipe, layout };
      this.pipelines.set(k.key, p);
    }
    return p;
  }

  /** Records one launch: `buffers` bind to 0..n-1 in order and the uniforms (if any) to n. */
  dispatch(k: Kernel, buffers: GPUBuffer[], uniforms: ArrayBuffer | null, groups: [number, number?, number?]): void {
    const g = this.graph;
    if (uniforms && (g ? g.uniformUsed : this.uniformUsed) + uniforms.byteLength > UNIFORM_CAPACITY) {
      if (g) g.addUniformBuffer();
      else this.flush();
    }
    const { pipe, layout } = this.pipeline(k);
    // Uniforms go to the batch's buffer, or to the graph's own while recording.
    const staging = g ? g.uniformStaging : this.uniformStaging;
    const offset = g ? g.uniformUsed : this.uniformUsed;
    if (uniforms) {
      staging.set(new Uint8Array(uniforms), offset);
      const used = Math.ceil(uniforms.byteLength / UNIFORM_ALIGN) * UNIFORM_ALIGN;
      if (g) g.uniformUsed += used;
      else this.uniformUsed += used;
    }
    const bindGroup = this.bindGroup(k, layout, buffers, uniforms ? uniforms.byteLength : 0, g?.uniformBuffer ?? this.uniformBuffer);
    const dims: [number, number, number] = [groups[0], groups[1] ?? 1, groups[2] ?? 1];
    const offsets: [number] | null = uniforms ? [offset] : null;
    this.encodeDispatch(pipe, bindGroup, offsets, dims);
    g?.commands.push({ kind: 'dispatch', key: k.key, pipe, bindGroup, offsets, groups: dims });
    this.recorded++;
    this.recordedWorkgroups += dims[0] * dims[1] * dims[2];
    if ((this.recorded >= SUBMIT_EVERY && this.recordedWorkgroups >= SUBMIT_WORKGROUPS) || this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  private encodeDispatch(pipe: GPUComputePipeline, bindGroup: GPUBindGroup, offsets: [number] | null, groups: [number, number, number]): void {
    if (!this.pass) this.pass = this.getEncoder().beginComputePass();
    this.pass.setPipeline(pipe);
    if (offsets) this.pass.setBindGroup(0, bindGroup, offsets);
    else this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.dispatches++;
  }

  /**
   * Starts recording a LaunchGraph: the work recorded until endGraph() also runs now, as usual.
   * Host uploads and reads during the recording make it invalid (they would not be replayed).
   */
  beginGraph(): void {
    if (this.graph) throw new Error('webgpu: graphs cannot be recorded inside one another');
    this.graph = new LaunchGraph(
      () => this.graphUniforms.pop() ?? this.device.createBuffer({ size: UNIFORM_CAPACITY, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
    );
  }

  endGraph(): LaunchGraph {
    const g = this.graph;
    if (!g) throw new Error('webgpu: endGraph() without beginGraph()');
    this.writeGraphUniforms(g);
    this.graph = null;
    return g;
  }

  /** Writes a graph's uniforms: before the first submit of its recorded work, and once for all. */
  private writeGraphUniforms(g: LaunchGraph): void {
    const last = g.uniformBuffers.length - 1;
    g.uniformBuffers.forEach((b, i) => {
      const bytes = i === last ? g.uniformUsed : UNIFORM_CAPACITY;
      if (bytes) this.device.queue.writeBuffer(b, 0, g.uniformStagings[i]!, 0, bytes);
    });
  }

  /** Records the graph's commands again, after the work recorded so far. */
  replay(g: LaunchGraph): void {
    if (g.disposed) throw new Error('webgpu: replay of a disposed graph');
    if (this.graph) throw new Error('webgpu: a graph cannot be replayed while one is recorded');
    for (const c of g.commands) {
      if (c.kind === 'dispatch') this.encodeDispatch(c.pipe, c.bindGroup, c.offsets, c.groups);
      else if (c.kind === 'copy') this.copy(c.src, c.srcOffset, c.dst, c.dstOffset, c.bytes);
      else this.clear(c.buffer, c.bytes);
    }
    if (this.dispatches >= MAX_DISPATCHES_PER_SUBMIT) this.flush();
  }

  /** Frees a graph's uniforms and returns its temporaries to the pool (after recorded work). */
  disposeGraph(g: LaunchGraph): void {
    if (g.disposed) return;
    g.disposed = true;
    // In reverse, so that the pool (last in, first out) hands the same buffers out in the same
    // order to the next recording of the same work, whose bind groups are then cached already.
    for (let i = g.held.length - 1; i >= 0; i--) this.release(g.held[i]!);
    const uniforms = g.uniformBuffers.slice().reverse();
    const kept = Math.max(0, Math.min(uniforms.length, GRAPH_UNIFORMS_KEPT - this.graphUniforms.length - this.graphUniformsAfterSubmit.length));
    (this.encoder ? this.graphUniformsAfterSubmit : this.graphUniforms).push(...uniforms.slice(0, kept));
    for (const b of uniforms.slice(kept)) {
      if (this.encoder) this.retired.push(b);
      else b.destroy();
    }
  }

  /**
   * Bind groups are cached by (kernel, buffers, uniform size): decoding repeats the same launches
   * on the same pooled buffers every token, and creating bind groups is a large part of a launch's
   * host cost. A destroyed buffer's id is never reused, so a stale entry is never hit.
   */
  private bindGroup(k: Kernel, layout: GPUBindGroupLayout, buffers: GPUBuffer[], uniformBytes: number, uniformBuffer: GPUBuffer): GPUBindGroup {
    let key = k.key;
    for (const b of buffers) key += `,${this.bufferId(b)}`;
    if (uniformBytes) key += `|${uniformBytes}@${this.bufferId(uniformBuffer)}`;
    let g = this.bindGroups.get(key);
    if (g) this.stats.bindGroupHits++;
    else {
      this.stats.bindGroupMisses++;
      const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
      if (uniformBytes) entries.push({ binding: buffers.length, resource: { buffer: uniformBuffer, offset: 0, size: uniformBytes } });
      g = this.device.createBindGroup({ layout, entries });
      if (this.bindGroups.size >= BIND_GROUP_CACHE) this.bindGroups.clear();
      this.bindGroups.set(key, g);
    }
    return g;
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.ids.get(b);
    if (id === undefined) {
      id = this.nextId++;
      this.ids.set(b, id);
    }
    return id;
  }

  /** Zero-fills a buffer (in order with the recorded work). */
  clear(b: GPUBuffer, bytes: number): void {
    this.endPass();
    this.getEncoder().clearBuffer(b, 0, Math.ceil(bytes / 4) * 4);
    this.graph?.commands.push({ kind: 'clear', buffer: b, bytes });
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
    this.graph?.commands.push({ kind: 'copy', src, srcOffset, dst, dstOffset, bytes });
  }

  /** Submits the recorded work. */
  flush(): void {
    if (!this.encoder) return;
    const t0 = performance.now();
    this.endPass();
    if (this.uniformUsed) this.device.queue.writeBuffer(this.uniformBuffer, 0, this.uniformStaging, 0, this.uniformUsed);
    if (this.graph) this.writeGraphUniforms(this.graph); // the part recorded so far runs now
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    for (const b of this.retired) b.destroy(); // freed by the driver once the submitted work is done
    this.retired = [];
    if (this.graphUniformsAfterSubmit.length) {
      this.graphUniforms.push(...this.graphUniformsAfterSubmit);
      this.graphUniformsAfterSubmit = [];
    }
    this.stats.submits++;
    this.stats.submitMs += performance.now() - t0;
    this.uniformUsed = 0;
    this.dispatches = 0;
    this.recorded = 0;
    this.recordedWorkgroups = 0;
  }

  /** Writes host data into a buffer, after all recorded work (which may still read the old contents). */
  write(b: GPUBuffer, data: ArrayBufferView): void {
    if (this.graph) this.graph.invalid ??= 'host data was uploaded while it was recorded';
    this.flush();
    this.device.queue.writeBuffer(b, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Copies `bytes` of `src` back to the host. */
  async read(src: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    if (this.graph) this.graph.invalid ??= 'values were read back while it was recorded';
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size: Math.max(size, 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.copy(src, 0, staging, 0, size);
    this.flush();
    try {
      await staging.mapAsync(GPUMapMode.READ);
      const out = staging.getMappedRange(0, size).slice(0);
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
      this.throwIfError();
    }
  }

  throwIfError(): void {
    if (this.firstError) {
      const e = this.firstError;
      this.firstError = null;
      throw new Error(`webgpu: ${e}`);
    }
  }

  /** Waits until the GPU finished everything submitted. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.throwIfError();
  }
}

/** 1-D launches of `n` threads as a 2-D grid (dimension limits are 65535). */
export function grid1d(n: number): [number, number] {
  const groups = Math.max(1, Math.ceil(n / WG));
  if (groups <= 65535) return [groups, 1];
  const y = Math.ceil(groups / 65535);
  return [Math.ceil(groups / y), y];
}

/** The WGSL preamble for kernels launched with grid1d: `let i = flatIndex(gid, nwg);`. */
export const FLAT_INDEX = /* wgsl */ `
fn flatIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 { return gid.x + gid.y * nwg.x * ${WG}u; }
`;

/** Packs uniforms: a sequence of u32/i32/f32 values, 4 bytes each. */
export class Uniforms {
  private view: DataView;
  private at = 0;
  constructor(bytes: number) {
    this.view = new DataView(new ArrayBuffer(Math.ceil(bytes / 16) * 16));
  }
  u32(...v: number[]): this {
    for (const x of v) {
      this.view.setUint32(this.at, x, true);
      this.at += 4;
    }
    return this;
  }
  i32(...v: number[]): this {
    for (const x of v) {
      this.view.setInt32(this.at, x, true);
      this.at += 4;
    }
    return this;
  }
  f32(...v: number[]): this {
    for (const x of v) {
      this.view.setFloat32(this.at, x, true);
      this.at += 4;
    }
    return this;
  }
  /** Pads to the next 16-byte boundary (WGSL vec4/array alignment). */
  align16(): this {
    this.at = Math.ceil(this.at / 16) * 16;
    return this;
  }
  get buffer(): ArrayBuffer {
    return this.view.buffer as ArrayBuffer;
  }
}
