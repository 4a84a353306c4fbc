"""The toy source (tests/test_toy_source.py): see mhc_pipeline/defs/__init__.py for the layout of a source's folder."""
