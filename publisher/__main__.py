"""``python -m publisher`` is the same as the ``netstream-publisher`` console script."""

from publisher.cli import main

raise SystemExit(main())
