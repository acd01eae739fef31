"""``zoo serve``: a small read-only web application over the catalog.

:mod:`zoo.web.views` gathers each page's records with the library's functions (the same ones the CLI's
``--json`` prints); :mod:`zoo.web.app` renders them as HTML (Jinja2, autoescaped) or JSON. Importing
:mod:`zoo` does not import this package; the CLI imports it only inside ``zoo serve``.
"""
