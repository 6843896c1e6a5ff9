from __future__ import annotations

import sys

from omnidesk.app import main

sys.exit(main())
