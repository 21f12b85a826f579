/**
 * The layout both sides of the WebAssembly kernels agree on: where the control block sits in the
 * shared memory, what each of its 32-bit words holds, and the kernel numbers. Read by the
 * TypeScript compiler and by the AssemblyScript compiler (assembly/ imports it), so it holds plain
 * integer constants only.
 *
 * Memory map: [0, CONTROL) stays unused (a null pointer reads zeros, never a tensor);
 * [CONTROL, HEAP_BASE) is the control block; tensors and per-thread scratch start at HEAP_BASE.
 */

/** Byte address of the control block. */
export const CONTROL = 1024;
/** First byte the allocator hands out. */
export const HEAP_BASE = 65536;

// Word indices into the control block (byte address CONTROL + 4 * index).
/** Bumped by the dispatching thread once a job is posted; workers wait on it. */
export const W_GENERATION = 0;
/** The next tile to claim (atomic fetch-add); set to CLAIMS_CLOSED while a job is being written. */
export const W_NEXT_TILE = 1;
/** Tiles finished; the dispatching thread waits for it to reach W_TILE_COUNT. */
export const W_TILES_DONE = 2;
export const W_TILE_COUNT = 3;
/** Which kernel the job runs (a K_* number). */
export const W_KERNEL = 4;
/** Workers with an index below this take part; the others keep waiting. */
export const W_ACTIVE_THREADS = 5;
/** Workers asleep in memory.atomic.wait (the dispatcher notifies only when some are). */
export const W_SLEEPERS = 6;
/** Workers that have instantiated the module and entered their loop. */
export const W_STARTED = 7;
/** The job's arguments: W_ARGS + i for argument i. */
export const W_ARGS = 16;
export const MAX_ARGS = 48;

/** W_NEXT_TILE while a job is being written: any claim lands beyond every tile count. */
export const CLAIMS_CLOSED = 1073741824;

// Kernels.
/** C = op(A) · op(B), batched; register-tiled, packed panels (assembly/gemm.ts). */
export const K_GEMM = 1;
/** Y = X · Wᵀ for a few rows of X, W (N, K) in f32/bf16/f16 (assembly/gemv.ts). */
export const K_GEMV = 2;

// Arguments of K_GEMM and K_GEMV (indices after W_ARGS).
export const A_PTR_A = 0;
export const A_PTR_B = 1;
export const A_PTR_C = 2;
export const A_M = 3;
export const A_N = 4;
export const A_K = 5;
/** Bit 0: A is transposed (stored (K, M)); bit 1: B is transposed (stored (N, K)). */
export const A_FLAGS = 6;
/** How B's elements are stored: a WEIGHT_* number. */
export const A_B_TYPE = 7;
/** Elements between consecutive batches of A and of B (0: one matrix for every batch). */
export const A_BATCH_STRIDE_A = 8;
export const A_BATCH_STRIDE_B = 9;
/** Tiles per batch along M and along N. */
export const A_TILES_M = 10;
export const A_TILES_N = 11;
/** Rows (M) and columns (N) of C per tile. */
export const A_TILE_ROWS = 12;
export const A_TILE_COLS = 13;

export const FLAG_TRANS_A = 1;
export const FLAG_TRANS_B = 2;

export const WEIGHT_F32 = 0;
export const WEIGHT_BF16 = 1;
export const WEIGHT_F16 = 2;

// Blocking of the GEMM (shared so that the TypeScript side sizes the scratch and the tiles).
/** Micro-tile: MR rows of A by NR columns of B held in registers. */
export const GEMM_MR = 4;
export const GEMM_NR = 8;
/** K is processed in blocks of KC (a packed B panel, KC × NR, stays in L1). */
export const GEMM_KC = 256;
/** Largest tile (rows × columns of C) one thread computes at a time. */
export const GEMM_MAX_TILE_ROWS = 128;
export const GEMM_MAX_TILE_COLS = 128;
/** Bytes of scratch each thread needs: packed A (rows × KC) and B (KC × columns) and an edge tile. */
export const SCRATCH_BYTES = 4 * (GEMM_MAX_TILE_ROWS * GEMM_KC + GEMM_KC * GEMM_MAX_TILE_COLS + GEMM_MR * GEMM_NR) + 256;

// Inference kernels (numbers 10–29).
/** The selective scan over (batch, L, channels), and the one-token state update as L = 1 (assembly/scan.ts). */
export const K_SCAN = 10;
/** Causal depthwise conv1d over (batch, L, channels), SiLU optional, with its state (assembly/conv.ts). */
export const K_CONV1D = 11;

// Arguments of K_SCAN (indices after W_ARGS). Pointers are byte addresses; 0 means absent.
export const S_U = 0;
export const S_DELTA = 1;
export const S_A = 2;
export const S_B = 3;
export const S_C = 4;
export const S_D = 5;
export const S_Z = 6;
export const S_DELTA_BIAS = 7;
export const S_H0 = 8;
export const S_OUT = 9;
export const S_LAST = 10;
export const S_L = 11;
export const S_CHANNELS = 12;
export const S_N = 13;
/** Bit 0: softplus on Δ + bias. */
export const S_FLAGS = 14;
export const S_TILES_PER_BATCH = 15;
/** Channels per tile (a multiple of 4). */
export const S_TILE_CHANNELS = 16;
export const SCAN_FLAG_SOFTPLUS = 1;

// Arguments of K_CONV1D.
export const CV_X = 0;
export const CV_W = 1;
export const CV_BIAS = 2;
export const CV_STATE = 3;
export const CV_OUT = 4;
export const CV_NEW_STATE = 5;
export const CV_L = 6;
export const CV_CHANNELS = 7;
export const CV_K = 8;
/** Bit 0: SiLU on the output. */
export const CV_FLAGS = 9;
export const CV_TILES_PER_BATCH = 10;
export const CV_TILE_CHANNELS = 11;
export const CONV_FLAG_SILU = 1;
/**
 * Mamba-2's decode-step state update, in place, per (row, head): S = S·decay + (x·Δ) ⊗ B
 * (assembly/ssd-step.ts).
 */
export const K_SSD_STEP = 12;

// Arguments of K_SSD_STEP (byte addresses; floats for the strides and offsets).
/** The states (batch, heads, head dim, N), updated in place. */
export const SS_STATE = 0;
/** Row 0 of (batch, row stride) rows holding x (heads · head dim) at 0 and the groups' B (G, N) at SS_B_OFFSET. */
export const SS_XB = 1;
export const SS_ROW_STRIDE = 2;
export const SS_B_OFFSET = 3;
/** Δ and exp(Δ·A) per (row, head), (batch, heads) each. */
export const SS_DT = 4;
export const SS_DECAY = 5;
export const SS_HEADS = 6;
export const SS_HEAD_DIM = 7;
export const SS_N = 8;
export const SS_HEADS_PER_GROUP = 9;

/**
 * Mamba-2's state space layer over a sequence, token by token, per (sequence, head)
 * (assembly/ssd-scan.ts); the forward of ops/ssd.ts's ssdChunked on the CPU where no gradient is
 * recorded.
 */
export const K_SSD_SCAN = 13;

// Arguments of K_SSD_SCAN (byte addresses; 0 where an optional input is absent).
/** x (batch, L, heads, head dim); Δ (batch, L, heads), already softplus'd and clamped; A and D (heads). */
export const SQ_X = 0;
export const SQ_DT = 1;
export const SQ_A = 2;
export const SQ_D = 3;
/** B and C (batch, L, groups, N). */
export const SQ_B = 4;
export const SQ_C = 5;
/** The state before the first token (batch, heads, head dim, N); 0: zeros. */
export const SQ_H0 = 6;
/** y (batch, L, heads, head dim) and the last state (batch, heads, head dim, N). */
export const SQ_OUT = 7;
export const SQ_LAST = 8;
export const SQ_L = 9;
export const SQ_HEADS = 10;
export const SQ_HEAD_DIM = 11;
export const SQ_GROUPS = 12;
export const SQ_N = 13;

/** Causal grouped-query attention's forward (assembly/attention.ts): a tile per (sequence, head, block of queries). */
export const K_ATTENTION = 14;

// Arguments of K_ATTENTION (byte addresses; AT_MASK 0 without a key mask).
/** q and out (B, Lq, H, hd); k and v (B, Hkv, cap, hd); mask (B, Lk). */
export const AT_Q = 0;
export const AT_K = 1;
export const AT_V = 2;
export const AT_MASK = 3;
export const AT_OUT = 4;
export const AT_LQ = 5;
export const AT_H = 6;
export const AT_HKV = 7;
export const AT_HD = 8;
export const AT_CAP = 9;
export const AT_LK = 10;
/** Queries per tile. */
export const AT_QUERIES = 11;
/** 1/√hd as float32 bits. */
export const AT_SCALE_BITS = 12;

/** Channels per tile of the scan and the conv (fixed: results must not depend on the thread count). */
export const CHANNEL_TILE = 16;

// Training kernels (numbers 30–49).
/** The selective scan's backward, threads over blocks of channels (assembly/scan-backward.ts). */
export const K_SCAN_BACKWARD = 30;

// Arguments of K_SCAN_BACKWARD (byte addresses; 0 where an optional tensor is absent).
export const SB_U = 0;
export const SB_DELTA = 1;
export const SB_A = 2;
export const SB_B = 3;
export const SB_C = 4;
export const SB_D = 5;
export const SB_Z = 6;
export const SB_DELTA_BIAS = 7;
export const SB_H0 = 8;
export const SB_G_OUT = 9;
export const SB_G_LAST = 10;
export const SB_DU = 11;
export const SB_DDELTA = 12;
export const SB_DA = 13;
/** Per tile partial sums of dB and dC (tiles × batch × L × N each), summed over tiles afterwards. */
export const SB_DB_PARTS = 14;
export const SB_DC_PARTS = 15;
export const SB_DD = 16;
export const SB_DZ = 17;
export const SB_DBIAS = 18;
export const SB_DH0 = 19;
export const SB_BATCH = 20;
export const SB_L = 21;
export const SB_DIM = 22;
export const SB_N = 23;
/** 1 when Δ goes through softplus. */
export const SB_SOFTPLUS = 24;
/** Channels per tile (a multiple of 4: one SIMD lane per channel). */
export const SB_TILE_CHANNELS = 25;
/** Workspace: SB_WORK_BYTES bytes per tile, from SB_WORK. */
export const SB_WORK = 26;
export const SB_WORK_BYTES = 27;
/** Time steps per recomputed chunk (states are kept at chunk boundaries only). */
export const SB_CHUNK = 28;

/**
 * The backward of K_SSD_SCAN (assembly/ssd-scan-backward.ts): a tile per (sequence, head), the
 * forward states recomputed (kept at chunk boundaries, then chunk by chunk in reverse).
 */
export const K_SSD_SCAN_BACKWARD = 32;

// Arguments of K_SSD_SCAN_BACKWARD (byte addresses; 0 where an optional tensor is absent).
export const SQB_X = 0;
export const SQB_DT = 1;
export const SQB_A = 2;
export const SQB_D = 3;
export const SQB_B = 4;
export const SQB_C = 5;
export const SQB_H0 = 6;
export const SQB_G_OUT = 7;
export const SQB_G_LAST = 8;
export const SQB_DX = 9;
export const SQB_DDT = 10;
/** Per tile of the job (slot t for its tile t): dA and dD (one float each), dB and dC ((L, N) each); the caller sums them in order. */
export const SQB_DA_PARTS = 11;
export const SQB_DD_PARTS = 12;
export const SQB_DB_PARTS = 13;
export const SQB_DC_PARTS = 14;
export const SQB_DH0 = 15;
export const SQB_L = 16;
export const SQB_HEADS = 17;
export const SQB_HEAD_DIM = 18;
export const SQB_GROUPS = 19;
export const SQB_N = 20;
/** Tokens per recomputed chunk. */
export const SQB_CHUNK = 21;
/** Workspace: SQB_WORK_BYTES per tile of this job (the job's tile t uses slot t), from SQB_WORK. */
export const SQB_WORK = 22;
export const SQB_WORK_BYTES = 23;
/** The job's tile t is (sequence, head) number SQB_TILE_BASE + t (the tiles run in waves that share the workspace). */
export const SQB_TILE_BASE = 24;

/**
 * The causal depthwise conv1d's backward (assembly/conv-backward.ts): a tile per block of
 * CB_TILE_CHANNELS channels over every sequence, so that dw and dbias are summed inside one tile.
 */
export const K_CONV1D_BACKWARD = 33;

// Arguments of K_CONV1D_BACKWARD (byte addresses; 0 where an optional tensor is absent or its
// gradient is not wanted).
export const CB_X = 0;
export const CB_W = 1;
export const CB_BIAS = 2;
export const CB_STATE = 3;
export const CB_G_OUT = 4;
export const CB_G_STATE = 5;
export const CB_DX = 6;
export const CB_DW = 7;
export const CB_DBIAS = 8;
export const CB_DSTATE = 9;
export const CB_BATCH = 10;
export const CB_L = 11;
export const CB_CHANNELS = 12;
export const CB_K = 13;
/** CONV_FLAG_SILU: the forward applied SiLU. */
export const CB_FLAGS = 14;
export const CB_TILE_CHANNELS = 15;

/** AdamW in place over float32 p, m, v from g (assembly/adamw.ts). */
export const K_ADAMW = 31;
// Arguments of K_ADAMW: addresses, length, elements per tile, then float64 scalars, two words each
// (low word first) from AW_SCALARS (an even index, so that they sit 8-byte aligned).
export const AW_P = 0;
export const AW_G = 1;
export const AW_M = 2;
export const AW_V = 3;
export const AW_LENGTH = 4;
export const AW_TILE = 5;
/** lr, β₁, β₂, eps, 1/correction1, 1/correction2, decay factor (1: none). */
export const AW_SCALARS = 6;
