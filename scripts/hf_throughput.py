#!/usr/bin/env python3
"""HF transformers' PyTorch twin of bench/throughput.ts (issue 15): the same models (random
weights, the shapes of bench/throughput-models.ts, built from configs: no downloads), the same
protocol, the same JSON line fields, on one CUDA GPU.

  prefill_s     model.generate(..., max_new_tokens=1): the prompt through the model and the first
                token, timed with torch.cuda.synchronize();
  decode_s      generate(..., min_new_tokens=G, max_new_tokens=G) minus prefill_s;
  tokens_per_s  batch * G / decode_s; cache_bytes as the TypeScript bench computes them, with
                the dtype's bytes per value (KV cache + Mamba conv/SSM states).

  python3 scripts/hf_throughput.py [--size 130m|1.4b] [--models mamba,llama,jamba]
      [--batch 1,8,32,64,128] [--prompt 2048] [--gen 128] [--dtype float32,bfloat16] [--repeat 1]
  python3 scripts/hf_throughput.py --long [--contexts 4096,...,131072] [--batch 1,8]

Mamba and Jamba use the mamba_ssm / causal_conv1d CUDA kernels when they are installed (the
"kernels" field says whether), else transformers' PyTorch path.
"""
import argparse
import json
import time

import torch
from transformers import (JambaConfig, JambaForCausalLM, LlamaConfig, LlamaForCausalLM,
                          MambaConfig, MambaForCausalLM)

VOCAB = 50280
JAMBA_LAYERS = 16
# Keep in step with SHAPES in bench/throughput-models.ts.
SHAPES = {
    "130m": dict(hidden=768, mamba_layers=24, heads=12, llama_layers=12, llama_intermediate=2240,
                 jamba_kv_heads=4, jamba_intermediate=640, attn_intermediate=1792),
    "1.4b": dict(hidden=2048, mamba_layers=48, heads=16, llama_layers=24, llama_intermediate=5888,
                 jamba_kv_heads=4, jamba_intermediate=5952, attn_intermediate=11200),
}
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def mamba_kernels_available():
    try:
        import causal_conv1d  # noqa: F401
        import mamba_ssm  # noqa: F401
        return True
    except ImportError:
        return False


def build_config(name, size, kernels):
    s = SHAPES[size]
    if name == "mamba":
        return MambaConfig(vocab_size=VOCAB, hidden_size=s["hidden"], num_hidden_layers=s["mamba_layers"],
                           state_size=16, expand=2, conv_kernel=4, use_bias=False, use_conv_bias=True,
                           tie_word_embeddings=True)
    if name == "jamba":
        return JambaConfig(vocab_size=VOCAB, hidden_size=s["hidden"], intermediate_size=s["jamba_intermediate"],
                           num_hidden_layers=JAMBA_LAYERS, num_attention_heads=s["heads"],
                           num_key_value_heads=s["jamba_kv_heads"], num_experts=8, num_experts_per_tok=2,
                           expert_layer_period=2, expert_layer_offset=1, attn_layer_period=8, attn_layer_offset=4,
                           mamba_d_state=16, mamba_d_conv=4, mamba_expand=2, tie_word_embeddings=True,
                           use_mamba_kernels=kernels)
    attn = name == "llama-attn"
    return LlamaConfig(vocab_size=VOCAB, hidden_size=s["hidden"],
                       num_hidden_layers=JAMBA_LAYERS if attn else s["llama_layers"],
                       num_attention_heads=s["heads"],
                       num_key_value_heads=s["jamba_kv_heads"] if attn else s["heads"],
                       intermediate_size=s["attn_intermediate"] if attn else s["llama_intermediate"],
                       tie_word_embeddings=True, max_position_embeddings=131072 + 4096)


def build_model(name, config, dtype):
    cls = {"mamba": MambaForCausalLM, "jamba": JambaForCausalLM}.get(name, LlamaForCausalLM)
    torch.manual_seed(0)
    return cls(config).to(device="cuda", dtype=dtype).eval()


def active_parameters(name, config, total):
    """Jamba runs num_experts_per_tok of each MoE layer's experts per token (3 H×I matrices each)."""
    if name != "jamba":
        return total
    moe_layers = sum(1 for i in range(config.num_hidden_layers)
                     if config.num_experts > 1 and i % config.expert_layer_period == config.expert_layer_offset)
    expert = 3 * config.hidden_size * config.intermediate_size
    return total - moe_layers * (config.num_experts - config.num_experts_per_tok) * expert


def cache_bytes(name, config, batch, tokens, value_bytes):
    """The decode state of `batch` sequences at `tokens` tokens (as footprint.ts computes it)."""
    if name == "mamba":
        e = config.intermediate_size
        state = config.num_hidden_layers * e * (config.conv_kernel - 1 + config.state_size)
        return dict(kv=0, mamba=batch * state * value_bytes)
    head_dim = config.hidden_size // config.num_attention_heads
    kv_per_layer = 2 * config.num_key_value_heads * head_dim * tokens
    if name == "jamba":
        attn_layers = sum(1 for i in range(config.num_hidden_layers)
                          if i % config.attn_layer_period == config.attn_layer_offset)
        e = config.mamba_expand * config.hidden_size
        mamba_layers = config.num_hidden_layers - attn_layers
        state = mamba_layers * e * (config.mamba_d_conv - 1 + config.mamba_d_state)
        return dict(kv=batch * attn_layers * kv_per_layer * value_bytes, mamba=batch * state * value_bytes)
    return dict(kv=batch * config.num_hidden_layers * kv_per_layer * value_bytes, mamba=0)


def prompts(batch, length):
    """The same ids as bench/throughput.ts."""
    rows = [[(i * 7919 + b * 104729 + 1) % VOCAB for i in range(length)] for b in range(batch)]
    return torch.tensor(rows, dtype=torch.long, device="cuda")


@torch.inference_mode()
def timed_generate(model, ids, new_tokens):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False, min_new_tokens=new_tokens,
                   max_new_tokens=new_tokens, pad_token_id=0)
    torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=list(SHAPES), default="130m")
    p.add_argument("--models")
    p.add_argument("--batch")
    p.add_argument("--prompt", type=int, default=2048)
    p.add_argument("--gen", type=int, default=128)
    p.add_argument("--dtype", default="float32")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--long", action="store_true")
    p.add_argument("--contexts", default="4096,8192,16384,32768,65536,131072")
    a = p.parse_args()
    models = (a.models or ("jamba,llama-attn" if a.long else "mamba,llama,jamba")).split(",")
    batches = [int(b) for b in (a.batch or ("1,8" if a.long else "1,8,32,64,128")).split(",")]
    lengths = [int(c) for c in a.contexts.split(",")] if a.long else [a.prompt]
    bench = "long_context" if a.long else "throughput"
    kernels = mamba_kernels_available()
    info = dict(device="cuda", gpu=torch.cuda.get_device_name(), framework="pytorch",
                torch=torch.__version__, kernels=kernels)

    def emit(o):
        print(json.dumps({**o, **info}), flush=True)

    for dtype_name in a.dtype.split(","):
        dtype = DTYPES[dtype_name]
        value_bytes = torch.finfo(dtype).bits // 8
        for name in models:
            try:
                config = build_config(name, a.size, kernels)
                model = build_model(name, config, dtype)
            except Exception as e:  # out of memory, unsupported: reported, the run goes on
                emit(dict(bench=bench, model=name, size=a.size, dtype=dtype_name, error=repr(e)[:500]))
                torch.cuda.empty_cache()
                continue
            total = sum(t.numel() for t in model.parameters())
            about = dict(model=name, size=a.size, params=total,
                         active_params=active_parameters(name, config, total), dtype=dtype_name)
            emit(dict(bench="model", **about))
            for batch in batches:
                failed_at = None
                for length in lengths:
                    where = dict(bench=bench, **about, batch=batch, gen=a.gen)
                    where["context" if a.long else "prompt"] = length
                    if failed_at is not None:
                        emit(dict(where, error=f"skipped: context {failed_at} failed at this batch size"))
                        continue
                    try:
                        ids = prompts(batch, length)
                        timed_generate(model, ids, min(a.gen, 8))  # warm-up
                        cache = cache_bytes(name, config, batch, length + a.gen, value_bytes)
                        for rep in range(a.repeat):
                            prefill = timed_generate(model, ids, 1)
                            torch.cuda.reset_peak_memory_stats()
                            total_s = timed_generate(model, ids, a.gen)
                            decode = total_s - prefill
                            emit(dict(where, rep=rep, prefill_s=round(prefill, 4), decode_s=round(decode, 4),
                                      total_s=round(total_s, 4),
                                      prefill_tokens_per_s=round(batch * length / prefill, 1),
                                      tokens_per_s=round(batch * a.gen / decode, 1),
                                      cache_bytes=cache["kv"] + cache["mamba"], kv_bytes=cache["kv"],
                                      mamba_state_bytes=cache["mamba"],
                                      peak_memory_bytes=torch.cuda.max_memory_allocated()))
                    except Exception as e:
                        emit(dict(where, error=repr(e)[:500]))
                        torch.cuda.empty_cache()
                        if a.long:
                            failed_at = length
            del model
            torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
