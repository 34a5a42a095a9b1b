"""Which torch devices a run uses, which dtypes each supports, and how to wait for one.

The rules live here once: ``auto`` means the CPU plus every accelerator torch sees; Apple's
``mps`` has no float64; a CUDA or MPS device runs asynchronously, so a timer must wait for
it (:func:`sync`) before reading the clock.
"""

from __future__ import annotations


def dtype_supported(device: str, dtype: str) -> bool:
    """Whether torch can compute in ``dtype`` on ``device`` (mps has no float64)."""
    return not (device == "mps" and dtype == "float64")


def torch_devices(requested: str, dtype: str) -> list[str]:
    """``auto``: the CPU plus every accelerator torch sees (that supports ``dtype``); else the one named, checked."""
    from impl_torch.torch_two_layer_net import available_devices, resolve_device, resolve_dtype

    if requested == "auto":
        return [d for d in available_devices() if dtype_supported(d, dtype)]
    resolve_device(requested, resolve_dtype(dtype))  # raises a ConfigError when absent
    return [requested]


def sync(device_type: str) -> None:
    """Wait until the device has finished its queued work (a no-op on the CPU)."""
    if device_type == "cuda":
        import torch

        torch.cuda.synchronize()
    elif device_type == "mps":
        import torch

        torch.mps.synchronize()
