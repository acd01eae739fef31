"""zoo: a catalog of CNNs and their training data, read through the first-layer filters.

Importing :mod:`zoo` never imports torch; the training and model-reading side lives in :mod:`ingest`.
"""

__version__ = "0.1.0"
