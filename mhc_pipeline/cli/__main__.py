"""`python -m mhc_pipeline.cli ...` is `mhc ...`."""

import sys

from mhc_pipeline.cli import main

sys.exit(main())
