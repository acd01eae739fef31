"""The ``zoo`` command line: thin Typer commands over the library's plain functions."""
