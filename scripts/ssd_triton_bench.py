"""mamba_ssm's Triton SSD forward (`mamba_chunk_scan_combined`) on the GPU, at exactly the shape
and problem that `node dist/bench/ssd.js` (bench/ssd.ts) times for mamba-ts's fused WebGPU SSD:

  batch 1, L 2048, 24 heads x head_dim 64, 1 group of B/C, state 128, chunk 256 (mamba2-130m-like);
  dt given as is (no softplus, no dt bias), A one value per head, D one value per head, no z gate,
  an initial state (batch, heads, head_dim, state), and the final state returned.
  Ours: ssdChunked(x, dt, A, B, C, 256, { D, initialState }) -> out, lastState.
  Theirs: mamba_chunk_scan_combined(x, dt, A, B, C, 256, D=D, initial_states=h0,
          return_final_states=True) -> out, final_states.
  Inputs from the same ranges as bench/ssd.ts: x, B, C, D, h0 ~ U(-1, 1); dt ~ U(0.001, 0.1);
  A ~ U(-8, -1). (The values differ: a different generator; the work does not.)

Both sides print JSON lines {"bench": "ssd_forward", "piece", "batch", "L", "heads", "head_dim",
"groups", "state", "chunk", "us_per_call", "host_us_per_call"}; `us_per_call` is measured the same
way: `reps` calls issued back to back after a warm-up call, then one wait for the device, divided
by reps. Here also `graph_us_per_call` (the same calls replayed from a CUDA graph: GPU time without
Python's launch overhead, where capture works) and, with --backward, {"bench":
"ssd_forward_backward"} lines (the gradients of every input from a gradient of the output only, as
bench/ssd-backward.ts gives ours). A failing piece prints a line with "error" and the rest goes on.

float32 is the comparison (our kernels are f32). Triton's tl.dot on float32 inputs uses TF32 tensor
cores by default (what mamba_ssm users get); --f32-dot ieee sets TRITON_F32_DEFAULT=ieee before
Triton loads, for full-precision float32 products (closest to our f32 FMAs). bfloat16 (x, dt, B, C
in bf16; A, D, h0 f32) is printed for reference.

Correctness, per dtype: the output and final state against the recurrence token by token in float64
(S <- exp(dt*A) S + dt x (x) B; y = S C + D x, from the same, dtype-rounded inputs), as a
{"bench": "ssd_check"} line with max abs differences and max |ref|.

mamba_ssm is not installed on the GPU machine: --ref names a folder holding a source snapshot,
mamba_ssm/ (state-spaces/mamba: mamba_ssm/__init__.py, ops/__init__.py, ops/triton/, utils/) and
optionally einops-src/einops (used when einops is not installed); COMMIT in it, if present, is
printed. mamba_ssm/__init__.py imports CUDA extensions that are not built there, so the package is
registered as a bare module with its __path__ and only ops.triton.ssd_combined is imported.
docs/mamba2.md says how the folder is made. Needs PyTorch with CUDA and Triton (PyTorch's wheel).

  python3 scripts/ssd_triton_bench.py --ref .triton-ref
  python3 scripts/ssd_triton_bench.py --ref .triton-ref --f32-dot ieee --dtypes float32
  python3 scripts/ssd_triton_bench.py --ref .triton-ref --L 512,2048 --batch 1 --reps 50 --backward
"""
import argparse
import json
import os
import sys
import time
import types
from pathlib import Path

# The shape of bench/ssd.ts, `const [H, P, G, N, T] = [24, 64, 1, 128, 256]`: change both together.
HEADS, HEAD_DIM, GROUPS, STATE, CHUNK = 24, 64, 1, 128, 256
DTYPES = ("float32", "bfloat16")


def positive_ints(text):
    try:
        values = [int(t) for t in text.split(",")]
    except ValueError:
        values = []
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 1 separated by commas, got {text!r}")
    return values


def positive_int(text):
    values = positive_ints(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one integer >= 1, got {text!r}")
    return values[0]


def dtype_list(text):
    names = [t.strip() for t in text.split(",")]
    bad = [n for n in names if n not in DTYPES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(DTYPES)} separated by commas, got {text!r}")
    return names


def parse_args(argv):
    p = argparse.ArgumentParser(description="Time mamba_ssm's Triton mamba_chunk_scan_combined at bench/ssd.ts's shape (see the module docstring).")
    p.add_argument("--ref", required=True, help="folder with mamba_ssm/ (state-spaces/mamba source) and optionally einops-src/einops")
    p.add_argument("--L", type=positive_ints, default=[2048], help="sequence lengths, comma-separated (default 2048, as bench/ssd.ts)")
    p.add_argument("--batch", type=positive_int, default=1, help="batch (default 1, as bench/ssd.ts)")
    p.add_argument("--reps", type=positive_int, default=20, help="calls per timing (default 20, as bench/ssd.ts)")
    p.add_argument("--dtypes", type=dtype_list, default=list(DTYPES), help="float32 and/or bfloat16 (default both)")
    p.add_argument("--f32-dot", choices=("tf32", "ieee"), default=None, help="Triton's precision for float32 tl.dot (sets TRITON_F32_DEFAULT; default: Triton's, tf32)")
    p.add_argument("--backward", action="store_true", help="also time forward+backward (gradients of x, dt, A, B, C, D, h0)")
    p.add_argument("--no-check", action="store_true", help="skip the float64 sequential check")
    return p.parse_args(argv)


def import_triton_ssd(ref):
    """mamba_ssm.ops.triton.ssd_combined from the snapshot, without mamba_ssm/__init__.py."""
    ref = Path(ref).resolve()
    pkg = ref / "mamba_ssm"
    if not (pkg / "ops" / "triton" / "ssd_combined.py").is_file():
        sys.exit(f"--ref {ref}: expected mamba_ssm/ops/triton/ssd_combined.py inside (a source snapshot of state-spaces/mamba; see docs/mamba2.md)")
    try:
        import einops  # noqa: F401
    except ImportError:
        if not (ref / "einops-src" / "einops" / "__init__.py").is_file():
            sys.exit(f"--ref {ref}: einops is not installed and {ref}/einops-src/einops/__init__.py is missing")
        sys.path.insert(0, str(ref / "einops-src"))
    if "mamba_ssm" not in sys.modules:
        bare = types.ModuleType("mamba_ssm")
        bare.__path__ = [str(pkg)]
        sys.modules["mamba_ssm"] = bare
    from mamba_ssm.ops.triton import ssd_combined
    commit_file = ref / "COMMIT"
    commit = commit_file.read_text().strip() if commit_file.is_file() else None
    return ssd_combined, commit


def make_inputs(torch, batch, L, dtype, device, seed=7):
    g = torch.Generator(device="cpu").manual_seed(seed)

    def u(shape, lo, hi):
        return (torch.rand(shape, generator=g, dtype=torch.float32) * (hi - lo) + lo).to(device)

    f32 = {
        "x": u((batch, L, HEADS, HEAD_DIM), -1, 1),
        "dt": u((batch, L, HEADS), 0.001, 0.1),
        "A": u((HEADS,), -8, -1),
        "B": u((batch, L, GROUPS, STATE), -1, 1),
        "C": u((batch, L, GROUPS, STATE), -1, 1),
        "D": u((HEADS,), -1, 1),
        "h0": u((batch, HEADS, HEAD_DIM, STATE), -1, 1),
    }
    # A, D and the initial state stay float32 (as in mamba_ssm's Mamba2 module: A_log, D are f32).
    low = {k: (v.to(dtype) if k in ("x", "dt", "B", "C") else v) for k, v in f32.items()}
    return low


def sequential_reference(torch, x, dt, A, B, C, D, h0):
    """The recurrence token by token, float64: out (batch, L, H, P) and the last state (batch, H, P, N)."""
    x, dt, A, B, C, D, S = (t.double() for t in (x, dt, A, B, C, D, h0))
    batch, L, H, P = x.shape
    rep = H // B.shape[2]
    Bh = B.repeat_interleave(rep, dim=2)  # (batch, L, H, N): head h reads group h // rep
    Ch = C.repeat_interleave(rep, dim=2)
    out = torch.empty_like(x)
    for t in range(L):
        decay = torch.exp(dt[:, t] * A)  # (batch, H)
        S = S * decay[:, :, None, None] + (dt[:, t, :, None] * x[:, t])[..., None] * Bh[:, t, :, None, :]
        out[:, t] = (S * Ch[:, t, :, None, :]).sum(-1) + D[:, None] * x[:, t]
    return out, S


def time_calls(torch, fn, reps):
    """Like bench/ssd.ts: a warm-up call, then `reps` calls issued back to back and one wait."""
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(reps):
        fn()
    host = time.perf_counter() - t0
    torch.cuda.synchronize()
    total = time.perf_counter() - t0
    return total * 1e6 / reps, host * 1e6 / reps


def time_graph(torch, fn, reps):
    """GPU time per call from a CUDA graph of `reps` calls (None where capture fails)."""
    try:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(2):
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            for _ in range(reps):
                fn()
        graph.replay()
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        torch.cuda.synchronize()
        return start.elapsed_time(end) * 1000 / reps, None
    except Exception as e:  # capture is best effort: the plain timing stands without it
        return None, f"{type(e).__name__}: {e}"[:300]


def bench_one(torch, combined, args, dtype_name, L, emit):
    """The check and the timings of one (dtype, L)."""
    inp = make_inputs(torch, args.batch, L, getattr(torch, dtype_name), "cuda")
    x, dt, A, B, C, D, h0 = (inp[k] for k in ("x", "dt", "A", "B", "C", "D", "h0"))

    def forward():
        return combined(x, dt, A, B, C, CHUNK, D=D, initial_states=h0, return_final_states=True)

    head = {"batch": args.batch, "L": L, "heads": HEADS, "head_dim": HEAD_DIM, "groups": GROUPS, "state": STATE,
            "chunk": CHUNK, "dtype": dtype_name}
    if not args.no_check:
        with torch.no_grad():
            out, last = forward()
            ref_out, ref_last = sequential_reference(torch, x, dt, A, B, C, D, h0)
        emit({"bench": "ssd_check", **head, "reference": "sequential recurrence, float64",
              "out_max_abs_diff": float((out.double() - ref_out).abs().max()),
              "out_max_abs_ref": float(ref_out.abs().max()),
              "state_max_abs_diff": float((last.double() - ref_last).abs().max()),
              "state_max_abs_ref": float(ref_last.abs().max())})
        del out, last, ref_out, ref_last
    with torch.no_grad():
        us, host_us = time_calls(torch, forward, args.reps)
        graph_us, graph_error = time_graph(torch, forward, args.reps)
    emit({"bench": "ssd_forward", "piece": "mamba_ssm triton mamba_chunk_scan_combined forward", **head,
          "us_per_call": round(us, 1), "host_us_per_call": round(host_us, 1),
          "graph_us_per_call": None if graph_us is None else round(graph_us, 1), "reps": args.reps,
          **({"graph_error": graph_error} if graph_error else {})})
    if not args.backward:
        return
    piece = "mamba_ssm triton mamba_chunk_scan_combined forward+backward"
    try:
        leaves = [t.detach().clone().requires_grad_(True) for t in (x, dt, A, B, C, D, h0)]
        grad_out = torch.randn_like(x)

        def forward_backward():
            # The output's gradient only, as bench/ssd-backward.ts (the last state is returned but
            # not in the loss there either).
            out, _last = combined(*leaves[:5], CHUNK, D=leaves[5], initial_states=leaves[6], return_final_states=True)
            out.backward(grad_out)
            for t in leaves:
                t.grad = None

        us, host_us = time_calls(torch, forward_backward, args.reps)
        emit({"bench": "ssd_forward_backward", "piece": piece, **head, "us_per_call": round(us, 1),
              "host_us_per_call": round(host_us, 1), "reps": args.reps})
    except Exception as e:  # a failing backward leaves the forward's lines standing
        emit({"bench": "ssd_forward_backward", "piece": piece, **head, "error": f"{type(e).__name__}: {e}"[:500]})


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.f32_dot is not None:
        os.environ["TRITON_F32_DEFAULT"] = args.f32_dot  # read when Triton compiles; set before it loads
    for module, why in (("torch", "PyTorch with CUDA"), ("packaging", "mamba_ssm's Triton modules import it")):
        try:
            __import__(module)
        except ImportError:
            sys.exit(f"ssd_triton_bench: Python module {module!r} is missing ({why})")
    import torch
    if not torch.cuda.is_available():
        sys.exit("ssd_triton_bench: no CUDA device (Triton's kernels need one)")
    ssd_combined, commit = import_triton_ssd(args.ref)
    import triton
    common = {
        "framework": "mamba_ssm-triton",
        "gpu": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
        "mamba_ssm_commit": commit,
        "f32_dot": os.environ.get("TRITON_F32_DEFAULT", "tf32 (Triton's default)"),
    }

    def emit(o):
        print(json.dumps({**o, **common}), flush=True)

    for dtype_name in args.dtypes:
        for L in args.L:
            try:
                bench_one(torch, ssd_combined.mamba_chunk_scan_combined, args, dtype_name, L, emit)
            except Exception as e:  # one failing (dtype, L) leaves the others' lines standing
                emit({"bench": "ssd_forward", "dtype": dtype_name, "L": L, "error": f"{type(e).__name__}: {e}"[:500]})
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
