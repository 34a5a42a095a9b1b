"""The comparison harness: same weights, same batches, numpy vs PyTorch.

Entry point: ``python -m compare.run``. It treats ``impl_numpy`` and
``impl_torch`` as black boxes: shared initial weights in, gradients, losses and
timings out.
"""
