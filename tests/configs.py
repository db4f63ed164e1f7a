"""Config dicts that several tests share."""

SPARSE_GEMMA3 = {
    # A gemma3 vision-language config as the hub saves it: text_config holds only the fields that
    # differ from transformers' Gemma3TextConfig defaults (gemma-3-4b's sizes), so the language
    # model's vocabulary, heads and head_dim come from the family's defaults on both sides.
    "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3",
    "text_config": {"model_type": "gemma3_text", "hidden_size": 2560, "intermediate_size": 10240,
                    "num_hidden_layers": 34, "sliding_window": 1024,
                    "rope_scaling": {"factor": 8.0, "rope_type": "linear"}},
    "vision_config": {"model_type": "siglip_vision_model", "num_hidden_layers": 27},
}

