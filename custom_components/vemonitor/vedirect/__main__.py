"""``python -m custom_components.vemonitor.vedirect``: see cli.py."""

from .cli import main

raise SystemExit(main())
