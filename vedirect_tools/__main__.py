"""``python -m vedirect_tools``: see cli.py."""

from .cli import main

raise SystemExit(main())
