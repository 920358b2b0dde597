"""The PyTorch decoder that local validation times: the parameters of its ModelArch, a KV cache that decodes as a
full forward does, and the architectures it refuses."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the `torch` extra is not installed (pip install 'chipfleet[torch]')")

from chipfleet.exceptions import ConfigError  # noqa: E402
from chipfleet.validate.local.bench import default_local_model  # noqa: E402
from chipfleet.validate.local.model import Decoder, KVCache, count_parameters  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]


def test_torch_model_has_exactly_the_arch_parameters() -> None:
    base = default_local_model()
    variants = [
        base,
        base.model_copy(update={"tied_embeddings": True}),
        base.model_copy(
            update={
                "norm": "layernorm",
                "gated_mlp": False,
                "attention_bias": True,
                "attention_out_bias": True,
                "mlp_bias": True,
                "n_kv_heads": 8,
                "learned_position_embeddings": True,
                "position_embedding_offset": 2,
            }
        ),
    ]
    for arch in variants:
        small = arch.model_copy(update={"n_layers": 1, "vocab_size": 256, "max_position_embeddings": 64})
        assert count_parameters(Decoder(small)) == small.params_total, small


def test_kv_cache_decode_matches_a_full_forward() -> None:
    arch = default_local_model().model_copy(update={"n_layers": 2, "hidden_size": 64, "head_dim": 8, "vocab_size": 97})
    torch.manual_seed(0)
    net = Decoder(arch, max_len=32).eval()
    tokens = torch.randint(0, arch.vocab_size, (2, 12))
    with torch.inference_mode():
        full = net(tokens)
        cache = KVCache.empty(arch, 2, 32, torch.float32, torch.device("cpu"))
        steps = [net(tokens[:, :8], cache, last_only=True)]
        steps += [net(tokens[:, i : i + 1], cache) for i in range(8, 12)]
    incremental = torch.cat(steps, dim=1)
    torch.testing.assert_close(incremental, full[:, 7:], rtol=1e-4, atol=1e-4)


def test_unsupported_architectures_are_refused() -> None:
    moe = default_local_model().model_copy(update={"n_experts": 8, "experts_top_k": 2})
    with pytest.raises(ConfigError, match="mixture-of-experts"):
        Decoder(moe)
