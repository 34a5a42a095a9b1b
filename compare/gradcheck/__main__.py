"""``python -m compare.gradcheck``: see :mod:`compare.gradcheck.command`."""

from compare.gradcheck.command import main

raise SystemExit(main())
