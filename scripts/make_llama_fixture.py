"""Golden fixture for mamba-ts's Llama (the Transformer baseline of docs/throughput.md), made with
HuggingFace transformers the same way as ../shared/fixtures/make_fixtures.py makes the Mamba and
Jamba ones: random weights perturbed away from the init, references computed in float64.

Run where transformers is installed (the GPU machine): python3 scripts/make_llama_fixture.py OUT
Writes OUT/llama-tiny/{model/, inputs.json, expected.safetensors, grads.safetensors}; the repo keeps
it in test/fixtures/hf/llama-tiny.

Besides the fields of the shared fixtures, inputs.json has `padded`: a left-padded batch (ids,
attention_mask) and its greedy generation through HF's generate (positions from the mask's cumsum).
"""
import json, math, os, sys
import torch
from safetensors.torch import save_file
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

OUT = sys.argv[1]
torch.backends.cuda.matmul.allow_tf32 = False


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
            else:
                p.add_(torch.randn(p.shape, generator=g, dtype=p.dtype) / math.sqrt(max(p.shape[-1], 1)))


def dump(name, cfg, B, L, seed, gen_prompt=8, gen_new=16):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(cfg).float().eval()
    perturb(model, seed + 1)
    model.save_pretrained(os.path.join(d, "model"), safe_serialization=True)
    ref = LlamaForCausalLM(cfg)
    ref.load_state_dict({k: v.double() for k, v in model.state_dict().items()}, strict=True)
    ref = ref.double().eval()
    ref.config._attn_implementation = "eager"
    g = torch.Generator().manual_seed(seed + 2)
    ids = torch.randint(3, cfg.vocab_size, (B, L), generator=g)
    out = {}
    with torch.no_grad():
        o = ref(ids, output_hidden_states=True, use_cache=False)
    out["logits"] = o.logits.double()
    for i, h in enumerate(o.hidden_states):
        out[f"hidden_{i}"] = h.double()
    ref.train()
    ref.zero_grad()
    lo = ref(ids, labels=ids, use_cache=False)
    lo.loss.backward()
    out["loss"] = lo.loss.detach().reshape(1)
    grads = {n: p.grad.detach().double().contiguous() for n, p in ref.named_parameters() if p.grad is not None}
    ref.eval()
    prompt = ids[:, :gen_prompt]
    with torch.no_grad():
        gen = ref.generate(prompt, max_new_tokens=gen_new, do_sample=False, use_cache=True,
                           pad_token_id=0, eos_token_id=None)
    out["generated"] = gen.double()
    # a left-padded batch: row 1's first 3 prompt tokens become padding (pad id 0, mask 0). HF's forward
    # keeps positions 0..L-1 for it; its generate counts positions from the mask (cumsum - 1).
    pad_ids = prompt.clone()
    mask = torch.ones_like(pad_ids)
    pad_ids[1, :3] = 0
    mask[1, :3] = 0
    with torch.no_grad():
        pgen = ref.generate(pad_ids, attention_mask=mask, max_new_tokens=gen_new, do_sample=False,
                            use_cache=True, pad_token_id=0, eos_token_id=None)
        plog = ref(pad_ids, attention_mask=mask, use_cache=False).logits.double()
    out["padded_logits"] = plog
    save_file({k: v.contiguous() for k, v in out.items()}, os.path.join(d, "expected.safetensors"))
    save_file(grads, os.path.join(d, "grads.safetensors"))
    meta = {"input_ids": ids.tolist(), "prompt_len": gen_prompt, "new_tokens": gen_new,
            "generated": gen.tolist(), "loss": float(lo.loss), "transformers": transformers.__version__,
            "torch": torch.__version__, "weights_dtype": "float32",
            "padded": {"input_ids": pad_ids.tolist(), "attention_mask": mask.tolist(), "generated": pgen.tolist()}}
    json.dump(meta, open(os.path.join(d, "inputs.json"), "w"))
    # the smallest top-1/top-2 margin along the greedy paths, so a test knows how exact it must be
    with torch.no_grad():
        lg = ref(gen, use_cache=False).logits[:, gen_prompt - 1:-1]
        top = lg.topk(2, dim=-1).values
        print(name, "loss", float(lo.loss), "min greedy margin", float((top[..., 0] - top[..., 1]).min()),
              "gen", gen[0].tolist(), "padded", pgen.tolist(), flush=True)


dump("llama-tiny", LlamaConfig(vocab_size=512, hidden_size=64, intermediate_size=176, num_hidden_layers=2,
     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, rope_theta=10000.0,
     rms_norm_eps=1e-5, hidden_act="silu", tie_word_embeddings=False, attention_bias=False, mlp_bias=False,
     pad_token_id=0, bos_token_id=1, eos_token_id=2), B=2, L=24, seed=50)
print("done")
