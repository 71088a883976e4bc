"""``python -m examples.hr_client``: the example HR client's command line."""

import sys

from .client import main

sys.exit(main())
