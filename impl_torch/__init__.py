"""The book's two-layer net in PyTorch, with gradients by autograd (CPU, CUDA or MPS).

Reference: Deep Learning from Scratch (Saito), ch. 4 and 5. Takes and returns
parameters in the book's numpy layout so it can start from the same weights as
``impl_numpy``.
"""

from impl_torch.torch_two_layer_net import TorchTwoLayerNet, available_devices, resolve_device, resolve_dtype

__all__ = ["TorchTwoLayerNet", "available_devices", "resolve_device", "resolve_dtype"]
