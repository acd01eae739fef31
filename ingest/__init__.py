"""Everything that produces catalog entries and needs torch/timm: device transforms, first-layer extraction,
model files and hub downloads, training, references, external models and the worker loop.

Installed with ``pip install 'zoo[ingest]'``. Without that extra, importing any part of ``ingest`` raises
:class:`zoo.extras.MissingExtra`, which the CLI prints as one line naming the install command; this is
why the CLI can import ``ingest`` lazily inside its commands without checking first.
"""

from zoo.extras import require_extra

require_extra("ingest", "training models and reading model files")
