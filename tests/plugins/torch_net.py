"""A correct torch module for ``--impl`` (fixture): two ``nn.Linear`` in order, sigmoid between.

``forward(x)`` returns logits; the adapter maps the book's ``W1`` (D, H) to
``fc1.weight = W1.T`` (H, D), and so on.
"""

import torch
from torch import nn


class TorchTwoLayerNet(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.fc1 = nn.Linear(input_size, hidden_size)
        self.fc2 = nn.Linear(hidden_size, output_size)

    def forward(self, x):
        return self.fc2(torch.sigmoid(self.fc1(x)))
