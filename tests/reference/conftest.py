"""The ``*_make.py`` scripts beside the fixtures regenerate them with the reference
implementation (diff-diff, R, ...), which the test environment does
not have: they are documentation of provenance, not tests, so doctest collection skips them."""

collect_ignore_glob = ["*_make.py"]
