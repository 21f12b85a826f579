"""Round trip of the Llama baseline between mamba-ts and HuggingFace transformers (run where both are
installed, e.g. the GPU machine: `source .device/setup.sh && python3 scripts/llama_roundtrip.py`).

1. mamba-ts -> transformers: mamba-ts saves random Llamas (GQA with biases and head_dim != hidden /
   heads; tied embeddings with llama3 RoPE scaling); LlamaForCausalLM.from_pretrained loads each,
   and its logits are compared with mamba-ts's on the same ids.
2. transformers -> mamba-ts: transformers saves a random LlamaForCausalLM with linear RoPE scaling
   and biases; mamba-ts loads it and compares its logits with transformers'.
Prints one JSON line per check; exits 1 if any differs by more than 1e-4 x max|logit|.
"""
import json
import subprocess
import sys
import tempfile

import torch
from transformers import LlamaConfig, LlamaForCausalLM

HERE = __file__.rsplit("/", 1)[0]


def node(*args):
    out = subprocess.run(["node", f"{HERE}/llama-roundtrip.mjs", *args], check=True, capture_output=True, text=True)
    print(out.stdout.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        saved = node("save", d)
        for name in saved["variants"]:
            ref = json.load(open(f"{d}/{name}/mamba_ts_logits.json"))
            model = LlamaForCausalLM.from_pretrained(f"{d}/{name}", dtype=torch.float32).eval()
            with torch.no_grad():
                logits = model(torch.tensor(ref["ids"])).logits.flatten()
            mine = torch.tensor(ref["data"])
            diff = (logits - mine).abs().max().item()
            scale = mine.abs().max().item()
            good = diff <= 1e-4 * scale
            ok &= good
            print(json.dumps({"check": f"mamba-ts -> transformers ({name})", "max_abs_diff": diff, "max_abs_ref": scale, "relative": diff / scale, "ok": good}))

    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        cfg = LlamaConfig(vocab_size=300, hidden_size=48, intermediate_size=96, num_hidden_layers=3, num_attention_heads=6,
                          num_key_value_heads=2, attention_bias=True, rope_theta=1000.0,
                          rope_scaling={"rope_type": "linear", "factor": 2.0}, tie_word_embeddings=False)
        model = LlamaForCausalLM(cfg).eval()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.2 * torch.randn_like(p))
        model.save_pretrained(d, safe_serialization=True)
        ids = [[5, 77, 123, 9, 250, 31, 2, 64], [1, 2, 3, 4, 5, 6, 7, 8]]
        with torch.no_grad():
            logits = model(torch.tensor(ids)).logits.flatten().tolist()
        json.dump({"ids": ids, "data": logits}, open(f"{d}/hf_logits.json", "w"))
        ok &= node("compare", d)["ok"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
