"""PyTorch's training tokens/s for the mamba-130m-shaped model (HF MambaForCausalLM, random weights,
f32, AdamW), to set beside `npm run bench:train` on the same GPU:
    python3 scripts/bench_train_pytorch.py [--seq 256] [--batch 1] [--steps 3]
Prints one JSON line. transformers uses mamba_ssm's CUDA kernels when installed, else its PyTorch path.
"""
import argparse
import json
import time

import torch
from transformers import MambaConfig, MambaForCausalLM

p = argparse.ArgumentParser()
p.add_argument("--seq", type=int, default=256)
p.add_argument("--batch", type=int, default=1)
p.add_argument("--steps", type=int, default=3)
a = p.parse_args()
dev = "cuda" if torch.cuda.is_available() else "cpu"
torch.manual_seed(0)
model = MambaForCausalLM(MambaConfig(vocab_size=50280, hidden_size=768, num_hidden_layers=24, use_bias=False)).to(dev)
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.1)
ids = torch.randint(0, 50280, (a.batch, a.seq), device=dev)


def step():
    out = model(ids, labels=ids)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad()
    return out.loss.item()


step()
if dev == "cuda":
    torch.cuda.synchronize()
t0 = time.perf_counter()
for _ in range(a.steps):
    loss = step()
if dev == "cuda":
    torch.cuda.synchronize()
s = time.perf_counter() - t0
print(json.dumps({"bench": "train_pytorch", "device": dev, "batch": a.batch, "seq": a.seq, "steps": a.steps, "seconds": round(s, 3), "tokens_per_s": round(a.batch * a.seq * a.steps / s, 1), "loss": round(loss, 4)}))
