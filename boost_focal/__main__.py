"""``python -m boost_focal``: the same as the ``boost-focal`` command."""

import sys

from .cli import main

sys.exit(main())
