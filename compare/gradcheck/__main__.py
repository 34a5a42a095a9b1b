"""``python -m compare.gradcheck``: see :mod:`compare.gradcheck.cli`."""

from compare.gradcheck.cli import main

raise SystemExit(main())
