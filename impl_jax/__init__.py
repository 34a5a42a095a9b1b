"""The book's two-layer net in JAX: gradients by ``jax.grad``, compiled by ``jax.jit`` (CPU or GPU).

Reference: Deep Learning from Scratch (Saito), ch. 4 and 5. Takes and returns
parameters in the book's numpy layout so it can start from the same weights as
``impl_numpy``. JAX is an optional dependency: ``pip install ".[jax]"``.

Importing this package turns on ``jax_enable_x64`` for the whole process (JAX
otherwise silently computes in float32 even when asked for float64). Arrays made
by other JAX code in the same process then default to 64-bit too; every array of
this package is created with an explicit dtype, so float32 runs stay float32.
"""

try:
    import jax
except ImportError as exc:  # jax missing, or jaxlib missing beneath it
    raise ImportError(f'impl_jax needs jax, an optional extra: pip install ".[jax]" ({exc})') from exc

jax.config.update("jax_enable_x64", True)

from impl_jax.jax_two_layer_net import (  # noqa: E402  (after the x64 switch, which must come first)
    DEVICES,
    JaxTwoLayerNet,
    StreamResult,
    available_devices,
    resolve_device,
    resolve_dtype,
)

__all__ = ["DEVICES", "JaxTwoLayerNet", "StreamResult", "available_devices", "resolve_device", "resolve_dtype"]
