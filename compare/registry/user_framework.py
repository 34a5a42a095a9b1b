"""A class of the user's own (``--impl path/to/file.py:ClassName``): a book-style class or a ``torch.nn.Module``.

Its rows do not come from here: each spec is loaded and probed at the run's weights
(:mod:`compare.engine.plugins`), and its runners are :class:`compare.engine.plugin_runner.PluginRunner`.
It is registered so that its rows are timed last, in a group of their own.
"""

from __future__ import annotations

from compare.engine.plugin_runner import FAMILY
from compare.registry.framework_info import Framework

USER = Framework(name="user", title="your class (--impl)", group="user", families=(FAMILY,))
