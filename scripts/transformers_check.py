"""Round trip between mamba-ts and HuggingFace transformers (run where both are installed, e.g. the
H200 machine: `source .device/setup.sh && python3 scripts/transformers_check.py`).

1. mamba-ts -> transformers: mamba-ts trains a tiny Mamba for 4 steps and writes a checkpoint;
   transformers' MambaForCausalLM.from_pretrained loads it, and its logits are compared with
   mamba-ts's on the same ids.
2. transformers -> mamba-ts: transformers saves a random MambaForCausalLM (safetensors); mamba-ts
   loads it and compares its logits with transformers'.
Prints one JSON line per check; exits 1 if either differs by more than 1e-4 x max|logit|.
"""
import json
import subprocess
import sys
import tempfile

import torch
from transformers import MambaConfig, MambaForCausalLM

HERE = __file__.rsplit("/", 1)[0]


def node(*args):
    out = subprocess.run(["node", f"{HERE}/transformers-check.mjs", *args], check=True, capture_output=True, text=True)
    print(out.stdout.strip().splitlines()[-1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ok = True
    with tempfile.TemporaryDirectory() as d:
        node("save", d)
        ref = json.load(open(f"{d}/mamba_ts_logits.json"))
        model = MambaForCausalLM.from_pretrained(f"{d}/checkpoint", torch_dtype=torch.float32).eval()
        with torch.no_grad():
            logits = model(torch.tensor(ref["ids"])).logits.flatten()
        mine = torch.tensor(ref["data"])
        diff = (logits - mine).abs().max().item()
        scale = mine.abs().max().item()
        good = diff <= 1e-4 * scale
        ok &= good
        print(json.dumps({"check": "mamba-ts -> transformers", "max_abs_diff": diff, "max_abs_ref": scale, "relative": diff / scale, "ok": good}))

    with tempfile.TemporaryDirectory() as d:
        torch.manual_seed(0)
        cfg = MambaConfig(vocab_size=300, hidden_size=48, state_size=16, num_hidden_layers=3, expand=2, conv_kernel=4, use_bias=False)
        model = MambaForCausalLM(cfg).eval()
        model.save_pretrained(d, safe_serialization=True)
        ids = [[5, 77, 123, 9, 250, 31, 2, 64], [1, 2, 3, 4, 5, 6, 7, 8]]
        with torch.no_grad():
            logits = model(torch.tensor(ids)).logits.flatten().tolist()
        json.dump({"ids": ids, "data": logits}, open(f"{d}/hf_logits.json", "w"))
        ok &= node("compare", d)["ok"]
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
