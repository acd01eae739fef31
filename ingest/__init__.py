"""Everything that produces catalog entries and needs torch/timm: image sources, device transforms,
first-layer extraction, training, hub downloads and the worker loop."""
