"""Getting model weights into memory safely: local files, Hugging Face hub repos, timm models.

* :mod:`ingest.weights.files`: a state dict from a ``.safetensors`` file, or with consent from a pickle
  checkpoint through ``torch.load(weights_only=True)``.
* :mod:`ingest.weights.state_dicts`: the one owner of unnesting state dicts and of stripping wrapper
  prefixes (``module.``, ``model.``, ``_orig_mod.``).
* :mod:`ingest.weights.hub`: hub repos through ``huggingface_hub`` and its cache, failing in seconds
  where the hub cannot be reached.
* :mod:`ingest.weights.timm_models`: the one architecture check, timm pretrained models, models built from
  a state dict (every tensor shape checked) or from a seeded random initialisation.
"""

from ingest.weights.files import PICKLE_SUFFIXES, load_state_dict_file
from ingest.weights.hub import (
    HUB_PICKLE_FILES,
    HUB_SAFE_FILES,
    HubUnavailable,
    HubWeights,
    download_hub_weights,
    hub_unreachable,
    parse_hub_ref,
)
from ingest.weights.state_dicts import WRAPPER_KEYS, WRAPPER_PREFIXES
from ingest.weights.timm_models import (
    PretrainedInfo,
    build_model,
    check_architecture,
    random_init_model,
    timm_pretrained,
)

__all__ = [
    "HUB_PICKLE_FILES",
    "HUB_SAFE_FILES",
    "PICKLE_SUFFIXES",
    "WRAPPER_KEYS",
    "WRAPPER_PREFIXES",
    "HubUnavailable",
    "HubWeights",
    "PretrainedInfo",
    "build_model",
    "check_architecture",
    "download_hub_weights",
    "hub_unreachable",
    "load_state_dict_file",
    "parse_hub_ref",
    "random_init_model",
    "timm_pretrained",
]
