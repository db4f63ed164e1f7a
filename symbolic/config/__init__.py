"""Step 1 of the pipeline, reading: a model's ``config.json`` (a path, a preset, a hub id or a
dict) into an :class:`~symbolic.architecture.spec.Architecture` (``families``, one reader per
``model_type``; ``stored_weights`` for a checkpoint's ``quantization_config``), the shipped presets
and accelerators, and the bounded, typed reading of user files every command shares."""
