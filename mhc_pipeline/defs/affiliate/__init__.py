"""The affiliate source: see mhc_pipeline/defs/__init__.py for the layout of a source's folder."""
