"""The configurations measure_hf.py runs: model config dicts and the run matrix.

Model configs are the public Hugging Face config.json files (fields that only
describe weights on disk, torch_dtype and transformers_version, are left out:
the run sets the dtype). Qwen3-8B and Qwen3-30B-A3B are cut to a few layers so
that one GPU holds them while every other dimension stays real.

Each run is a dict with: model, recipe (amp-bf16 | bf16 | fp32 | bf16-pure),
seq, mb (micro-batch), ckpt ("off" | "full" | N = first N layers checkpointed),
attn (sdpa | eager), use_cache (False unless testing the cache pitfall),
experts_impl (None = transformers' default), part (1 = first, small device
call; 2 = the rest). Order = priority: the most informative runs come first.
"""

QWEN3_COMMON = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3",
    "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128,
    "hidden_act": "silu", "initializer_range": 0.02, "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
    "sliding_window": None, "use_cache": True, "use_sliding_window": False,
    "vocab_size": 151936,
}

GPT2_COMMON = {
    "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
    "activation_function": "gelu_new", "attn_pdrop": 0.1, "embd_pdrop": 0.1, "resid_pdrop": 0.1,
    "bos_token_id": 50256, "eos_token_id": 50256, "initializer_range": 0.02,
    "layer_norm_epsilon": 1e-05, "n_ctx": 1024, "n_positions": 1024,
    "summary_activation": None, "summary_first_dropout": 0.1, "summary_proj_to_labels": True,
    "summary_type": "cls_index", "summary_use_proj": True, "vocab_size": 50257,
}

MODELS = {
    "gpt2": dict(GPT2_COMMON, n_embd=768, n_head=12, n_layer=12),
    "gpt2-medium": dict(GPT2_COMMON, n_embd=1024, n_head=16, n_layer=24,
                        n_special=0, predict_special_tokens=True),
    "gpt2-xl": dict(GPT2_COMMON, n_embd=1600, n_head=25, n_layer=48, output_past=True),
    "qwen3-0.6b": dict(QWEN3_COMMON, hidden_size=1024, intermediate_size=3072,
                       num_attention_heads=16, num_hidden_layers=28, num_key_value_heads=8,
                       max_window_layers=28, tie_word_embeddings=True),
    "qwen3-1.7b": dict(QWEN3_COMMON, hidden_size=2048, intermediate_size=6144,
                       num_attention_heads=16, num_hidden_layers=28, num_key_value_heads=8,
                       max_window_layers=28, tie_word_embeddings=True),
    # Qwen3-8B with num_hidden_layers cut from 36 to 4.
    "qwen3-8b-4l": dict(QWEN3_COMMON, hidden_size=4096, intermediate_size=12288,
                        num_attention_heads=32, num_hidden_layers=4, num_key_value_heads=8,
                        max_window_layers=36, tie_word_embeddings=False),
    "llama-3.2-1b": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 128000,
        "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
        "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072,
        "mlp_bias": False, "num_attention_heads": 32, "num_hidden_layers": 16,
        "num_key_value_heads": 8, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "use_cache": True,
        "vocab_size": 128256,
    },
    # Qwen3-30B-A3B with num_hidden_layers cut from 48 to 2.
    "qwen3-30b-a3b-2l": {
        "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe",
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 151643,
        "decoder_sparse_step": 1, "eos_token_id": 151645, "head_dim": 128,
        "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 6144, "max_position_embeddings": 40960, "max_window_layers": 48,
        "mlp_only_layers": [], "moe_intermediate_size": 768, "norm_topk_prob": True,
        "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8,
        "num_hidden_layers": 2, "num_key_value_heads": 4, "output_router_logits": False,
        "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
        "router_aux_loss_coef": 0.001, "sliding_window": None, "tie_word_embeddings": False,
        "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    },
    "gemma-3-1b": {
        "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text",
        "attention_bias": False, "attention_dropout": 0.0, "attn_logit_softcapping": None,
        "bos_token_id": 2, "cache_implementation": "hybrid", "eos_token_id": [1, 106],
        "final_logit_softcapping": None, "head_dim": 256,
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 1152,
        "initializer_range": 0.02, "intermediate_size": 6912, "max_position_embeddings": 32768,
        "num_attention_heads": 4, "num_hidden_layers": 26, "num_key_value_heads": 1,
        "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06,
        "rope_local_base_freq": 10000, "rope_scaling": None, "rope_theta": 1000000,
        "sliding_window": 512, "sliding_window_pattern": 6, "use_cache": True,
        "vocab_size": 262144,
    },
}

# Held-out families (part 3): measured once to test the planner on models and settings it was
# not built against; their errors are reported as they came (docs/validation.md).
MODELS.update({
    # Mistral-7B-v0.1 cut to 4 layers: sliding window 4096 on every layer.
    "mistral-7b-4l": {
        "architectures": ["MistralForCausalLM"], "model_type": "mistral", "bos_token_id": 1,
        "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
        "intermediate_size": 14336, "max_position_embeddings": 32768, "num_attention_heads": 32,
        "num_hidden_layers": 4, "num_key_value_heads": 8, "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0, "sliding_window": 4096, "tie_word_embeddings": False,
        "use_cache": True, "vocab_size": 32000,
    },
    # Qwen2.5-1.5B: q/k/v biases, tied embeddings.
    "qwen2.5-1.5b": {
        "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 1536,
        "initializer_range": 0.02, "intermediate_size": 8960, "max_position_embeddings": 131072,
        "max_window_layers": 28, "num_attention_heads": 12, "num_hidden_layers": 28,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "sliding_window": 131072, "tie_word_embeddings": True, "use_cache": True,
        "use_sliding_window": False, "vocab_size": 151936,
    },
    # Llama-3.1-8B cut to 4 layers.
    "llama-3.1-8b-4l": {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "attention_bias": False,
        "attention_dropout": 0.0, "bos_token_id": 128000, "eos_token_id": 128001,
        "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
        "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": False,
        "num_attention_heads": 32, "num_hidden_layers": 4, "num_key_value_heads": 8,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": False, "use_cache": True,
        "vocab_size": 128256,
    },
    "qwen3-4b": dict(QWEN3_COMMON, hidden_size=2560, intermediate_size=9728,
                     num_attention_heads=32, num_hidden_layers=36, num_key_value_heads=8,
                     max_window_layers=36, tie_word_embeddings=True),
    "gpt2-large": dict(GPT2_COMMON, n_embd=1280, n_head=20, n_layer=36),
})

# Part 4: families zplan reads from config.json without a built-in profile (Phi-3: fused
# qkv_proj; Qwen2-MoE: shared expert; Mixtral: 8 large experts), cut to a few layers.
MODELS.update({
    "phi-3-mini-8l": {
        "architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 3072,
        "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 4096,
        "num_attention_heads": 32, "num_hidden_layers": 8, "num_key_value_heads": 32,
        "original_max_position_embeddings": 4096, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 10000.0, "sliding_window": 2047, "tie_word_embeddings": False,
        "use_cache": True, "vocab_size": 32064, "pad_token_id": 32000,
    },
    "qwen1.5-moe-a2.7b-4l": {
        "architectures": ["Qwen2MoeForCausalLM"], "model_type": "qwen2_moe", "attention_dropout": 0.0,
        "bos_token_id": 151643, "decoder_sparse_step": 1, "eos_token_id": 151643,
        "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 5632, "max_position_embeddings": 8192, "max_window_layers": 21,
        "moe_intermediate_size": 1408, "norm_topk_prob": False, "num_attention_heads": 16,
        "num_experts": 60, "num_experts_per_tok": 4, "num_hidden_layers": 4,
        "num_key_value_heads": 16, "output_router_logits": False, "rms_norm_eps": 1e-06,
        "rope_theta": 1000000.0, "router_aux_loss_coef": 0.001,
        "shared_expert_intermediate_size": 5632, "sliding_window": 32768,
        "tie_word_embeddings": False, "use_cache": True, "use_sliding_window": False,
        "vocab_size": 151936,
    },
    "mixtral-8x7b-2l": {
        "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 4096,
        "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 32768,
        "num_attention_heads": 32, "num_experts_per_tok": 2, "num_hidden_layers": 2,
        "num_key_value_heads": 8, "num_local_experts": 8, "output_router_logits": False,
        "rms_norm_eps": 1e-05, "rope_theta": 1000000.0, "router_aux_loss_coef": 0.02,
        "sliding_window": None, "tie_word_embeddings": False, "use_cache": True,
        "vocab_size": 32000,
    },
})

# Tiny variants for the smoke test: same model type and code path, toy sizes.
TINY_OVERRIDES = {
    "gpt2": dict(n_embd=64, n_head=4, n_layer=3, vocab_size=512),
    "qwen3-0.6b": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4,
                       num_key_value_heads=2, head_dim=16, num_hidden_layers=3, vocab_size=512),
    "llama-3.2-1b": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4,
                         num_key_value_heads=2, head_dim=16, num_hidden_layers=3, vocab_size=512),
    "qwen3-30b-a3b-2l": dict(hidden_size=64, intermediate_size=128, moe_intermediate_size=32,
                             num_attention_heads=4, num_key_value_heads=2, head_dim=16,
                             num_hidden_layers=3, num_experts=8, num_experts_per_tok=2,
                             vocab_size=512),
    "gemma-3-1b": dict(hidden_size=64, intermediate_size=128, num_attention_heads=4,
                       num_key_value_heads=1, head_dim=16, query_pre_attn_scalar=16,
                       num_hidden_layers=7, vocab_size=512, sliding_window=64),
}

AMP, BF16, FP32, PURE = "amp-bf16", "bf16", "fp32", "bf16-pure"


def _run(model, recipe, seq, mb, ckpt, part, attn="sdpa", use_cache=False, experts_impl=None,
         ckpt_offload=False, alloc_conf=None):
    return dict(model=model, recipe=recipe, seq=seq, mb=mb, ckpt=ckpt, attn=attn,
                use_cache=use_cache, experts_impl=experts_impl, ckpt_offload=ckpt_offload,
                alloc_conf=alloc_conf, part=part)


def run_id(r):
    """model_recipe_seq_mb_ckpt, plus a suffix for non-default attention/cache/experts."""
    s = f"{r['model']}_{r['recipe']}_{r['seq']}_mb{r['mb']}_ckpt-{r['ckpt']}"
    if r["attn"] != "sdpa":
        s += f"_{r['attn']}"
    if r["use_cache"]:
        s += "_usecache"
    if r["experts_impl"]:
        s += f"_experts-{r['experts_impl']}"
    if r.get("ckpt_offload"):
        s += "_cpuoffload"
    if r.get("alloc_conf"):
        s += "_expseg"
    return s


def group_key(r):
    """Runs that differ only in micro-batch share one saved-tensor analysis."""
    return (r["model"], r["recipe"], r["seq"], str(r["ckpt"]), r["attn"], r["use_cache"],
            r["experts_impl"], r.get("ckpt_offload"), r.get("alloc_conf"))


def build_matrix():
    m = []
    q = "qwen3-0.6b"
    # Part 1: one of each code path, so a bug in any of them costs one small call.
    m += [_run(q, AMP, 4096, 1, c, 1) for c in ("off", "full")]
    m += [_run(q, BF16, 4096, 1, c, 1) for c in ("off", "full")]
    m += [_run(q, PURE, 4096, 1, "off", 1), _run(q, FP32, 1024, 1, "off", 1)]
    m += [_run(q, AMP, 4096, 1, 14, 1), _run(q, AMP, 1024, 1, "off", 1, attn="eager")]
    m += [_run(q, AMP, 16384, 1, c, 1) for c in ("off", "full")]
    m += [_run("qwen3-30b-a3b-2l", BF16, 4096, 1, "off", 1)]
    m += [_run("gpt2", AMP, 1024, 4, "off", 1), _run("gpt2", AMP, 1024, 4, "off", 1, attn="eager")]
    m += [_run("gemma-3-1b", AMP, 4096, 1, "off", 1)]
    m += [_run("llama-3.2-1b", AMP, 4096, 2, "off", 1)]
    m += [_run("qwen3-8b-4l", BF16, 4096, 1, "off", 1)]
    # Part 2: the rest of the Qwen3-0.6B grid.
    for seq, mbs in ((1024, (1, 4)), (4096, (1, 4)), (16384, (1,))):
        for recipe in (AMP, BF16, PURE):
            for ckpt in ("off", "full"):
                for mb in mbs:
                    m.append(_run(q, recipe, seq, mb, ckpt, 2))
    for ckpt in ("off", "full"):
        for mb in (1, 4):
            m.append(_run(q, FP32, 1024, mb, ckpt, 2))
    m += [_run(q, BF16, 4096, 1, 14, 2), _run(q, PURE, 4096, 1, 14, 2)]
    m += [_run(q, AMP, 1024, 1, "full", 2, attn="eager"), _run(q, AMP, 1024, 4, "off", 2, attn="eager")]
    m += [_run(q, AMP, 4096, 1, "off", 2, use_cache=True)]
    # MoE, then the larger dense models.
    moe = "qwen3-30b-a3b-2l"
    for seq in (4096, 16384):
        for ckpt in ("off", "full"):
            m.append(_run(moe, BF16, seq, 1, ckpt, 2))
    # transformers 5.17 defaults to grouped_mm experts; eager is the per-expert loop.
    m += [_run(moe, BF16, 4096, 1, "off", 2, experts_impl="eager"),
          _run(moe, AMP, 4096, 1, "off", 2)]
    for seq in (4096, 16384):
        for ckpt in ("off", "full"):
            m.append(_run("qwen3-8b-4l", BF16, seq, 1, ckpt, 2))
    for recipe in (AMP, BF16):
        for seq in (2048, 8192):
            for ckpt in ("off", "full"):
                m.append(_run("qwen3-1.7b", recipe, seq, 1, ckpt, 2))
    for mb in (1, 2):
        for ckpt in ("off", "full"):
            m.append(_run("llama-3.2-1b", AMP, 4096, mb, ckpt, 2))
    m += [_run("gemma-3-1b", AMP, 4096, 1, "full", 2),
          _run("gemma-3-1b", AMP, 4096, 1, "off", 2, attn="eager")]
    m += [_run("llama-3.2-1b", AMP, 4096, 1, 8, 2), _run("qwen3-8b-4l", AMP, 4096, 1, "off", 2)]
    # Sequence scaling and long context for Qwen3-0.6B; CPU-offloaded checkpoints.
    m += [_run(q, AMP, 8192, 1, c, 2) for c in ("off", "full")]
    m += [_run(q, AMP, 32768, 1, "full", 2), _run(q, BF16, 32768, 1, "full", 2)]
    m += [_run(q, AMP, 16384, 1, "full", 2, ckpt_offload=True)]
    # GPT-2 family at 1024.
    for recipe in (AMP, BF16):
        for mb in (1, 4, 8):
            for attn in ("sdpa", "eager"):
                m.append(_run("gpt2", recipe, 1024, mb, "off", 2, attn=attn))
    for name in ("gpt2-medium", "gpt2-xl"):
        for recipe in (AMP, BF16):
            for mb in (1, 4, 8):
                m.append(_run(name, recipe, 1024, mb, "off", 2))
    for name in ("gpt2", "gpt2-medium", "gpt2-xl"):
        m.append(_run(name, AMP, 1024, 8, "full", 2))
    # Last: the allocator with expandable segments (reserved-vs-allocated gap), set at
    # run time and reset after, so it goes after everything else.
    m += [_run(q, AMP, 16384, 1, "off", 2, alloc_conf="expandable_segments:True"),
          _run(moe, BF16, 16384, 1, "off", 2, alloc_conf="expandable_segments:True")]
    # Part 3: held-out families and settings (see MODELS.update above).
    m += [_run("mistral-7b-4l", BF16, 8192, 1, c, 3) for c in ("off", "full")]
    m += [_run("qwen2.5-1.5b", AMP, 4096, 2, c, 3) for c in ("off", "full")]
    m += [_run("llama-3.1-8b-4l", BF16, 8192, 1, c, 3) for c in ("off", "full")]
    m += [_run("llama-3.1-8b-4l", AMP, 2048, 2, "off", 3)]
    m += [_run("qwen3-4b", AMP, 2048, 2, 12, 3), _run("qwen3-4b", PURE, 8192, 1, "full", 3)]
    m += [_run("qwen3-30b-a3b-2l", BF16, 8192, 2, "full", 3), _run("qwen3-30b-a3b-2l", AMP, 8192, 1, "full", 3)]
    m += [_run("gpt2-large", AMP, 1024, 4, "off", 3), _run("gpt2-large", FP32, 1024, 2, "off", 3)]
    m += [_run("gemma-3-1b", BF16, 8192, 1, "off", 3), _run("gemma-3-1b", PURE, 16384, 1, "full", 3)]
    m += [_run("llama-3.2-1b", AMP, 2048, 1, "off", 3, attn="eager")]
    m += [_run("qwen3-1.7b", PURE, 16384, 2, "full", 3), _run("qwen3-1.7b", FP32, 2048, 1, 14, 3)]
    # Part 4: config.json-only families.
    m += [_run("phi-3-mini-8l", BF16, 4096, 1, c, 4) for c in ("off", "full")]
    m += [_run("phi-3-mini-8l", AMP, 4096, 1, "off", 4)]
    m += [_run("qwen1.5-moe-a2.7b-4l", BF16, 4096, 1, c, 4) for c in ("off", "full")]
    m += [_run("qwen1.5-moe-a2.7b-4l", AMP, 2048, 2, "off", 4)]
    m += [_run("mixtral-8x7b-2l", BF16, 4096, 1, c, 4) for c in ("off", "full")]
    m += [_run("llama-3.2-1b", AMP, 16384, 1, "full", 4), _run("qwen3-1.7b", AMP, 4096, 2, 7, 4)]
    # Part 5: more held-out settings (short-and-wide, very long, eager MoE under AMP, ...).
    m += [_run("qwen3-0.6b", AMP, 512, 16, "off", 5), _run("llama-3.2-1b", BF16, 32768, 1, "full", 5)]
    m += [_run("gemma-3-1b", PURE, 4096, 1, "off", 5, attn="eager")]
    m += [_run("qwen3-30b-a3b-2l", AMP, 4096, 1, "off", 5, experts_impl="eager")]
    m += [_run("gpt2-medium", FP32, 1024, 4, 12, 5), _run("qwen3-1.7b", AMP, 16384, 1, 14, 5)]
    m += [_run("phi-3-mini-8l", PURE, 8192, 1, "full", 5), _run("mixtral-8x7b-2l", AMP, 2048, 1, "off", 5)]
    # Part 6 (2026-12-07): held out for the MoE mechanisms added that day (docs/cost-model.md
    # "MoE experts: their dtype under autocast, and the eager loop's gradients"), compared once:
    # the eager loop on other families and lengths, and grouped_mm experts under autocast (fp32).
    m += [_run("mixtral-8x7b-2l", BF16, 4096, 1, "off", 6, experts_impl="eager"),
          _run("qwen1.5-moe-a2.7b-4l", BF16, 4096, 1, "off", 6, experts_impl="eager"),
          _run("qwen3-30b-a3b-2l", BF16, 8192, 1, "full", 6, experts_impl="eager"),
          _run("qwen1.5-moe-a2.7b-4l", AMP, 4096, 1, "off", 6),
          _run("mixtral-8x7b-2l", AMP, 4096, 1, "full", 6),
          _run("qwen3-30b-a3b-2l", AMP, 16384, 1, "off", 6)]
    # Part 7 (2026-12-07, later): held out for the masked sliding-window attention of that day (sliding
    # layers past the window run SDPA over all T x T), compared once: longer Gemma 3, Mistral and Phi-3.
    m += [_run("gemma-3-1b", AMP, 16384, 1, "full", 7),
          _run("mistral-7b-4l", BF16, 16384, 1, "off", 7),
          _run("phi-3-mini-8l", BF16, 16384, 1, "full", 7)]
    # Drop duplicates of part-1 runs, keep first occurrence.
    seen, out = set(), []
    for r in m:
        if run_id(r) not in seen:
            seen.add(run_id(r))
            out.append(r)
    # The analysis pass runs once per group, at the group's smallest micro-batch.
    smallest = {}
    for r in out:
        k = group_key(r)
        smallest[k] = min(smallest.get(k, r["mb"]), r["mb"])
    for r in out:
        r["analyze"] = r["mb"] == smallest[group_key(r)]
    return out


RUNS = build_matrix()
