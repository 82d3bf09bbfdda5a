"""``python -m cdomail``: the command line."""

from __future__ import annotations

from cdomail.cli import main

raise SystemExit(main())
