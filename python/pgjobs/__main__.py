"""python3 -m pgjobs {migrate|worker} ..."""

import sys

from .cli import main

sys.exit(main())
