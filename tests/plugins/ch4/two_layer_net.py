"""A correct two-layer net in the style of the book's ch. 4 (fixture for ``--impl``).

Sigmoid hidden layer, gradient written by hand, one-hot labels (``gradient`` needs them:
``y - t`` with index labels would broadcast wrongly). The loss adds ``1e-7`` inside the
log (``common.functions.cross_entropy_error``); ``gradient`` is the gradient of the loss
without it.
"""

import os
import sys

sys.path.append(os.pardir)
import numpy as np  # noqa: E402
from common.functions import cross_entropy_error, sigmoid, sigmoid_grad, softmax  # noqa: E402
from common.gradient import numerical_gradient  # noqa: E402


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {}
        self.params["W1"] = weight_init_std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = weight_init_std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    def predict(self, x):
        a1 = np.dot(x, self.params["W1"]) + self.params["b1"]
        z1 = sigmoid(a1)
        return np.dot(z1, self.params["W2"]) + self.params["b2"]

    def loss(self, x, t):
        return cross_entropy_error(softmax(self.predict(x)), t)

    def accuracy(self, x, t):
        guess = np.argmax(self.predict(x), axis=1)
        truth = np.argmax(t, axis=1)
        return np.sum(guess == truth) / float(x.shape[0])

    def numerical_gradient(self, x, t):
        def f(_):
            return self.loss(x, t)

        grads = {}
        for key in ("W1", "b1", "W2", "b2"):
            grads[key] = numerical_gradient(f, self.params[key])
        return grads

    def gradient(self, x, t):
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        batch_num = x.shape[0]
        grads = {}

        a1 = np.dot(x, W1) + b1
        z1 = sigmoid(a1)
        a2 = np.dot(z1, W2) + b2
        y = softmax(a2)

        dy = (y - t) / batch_num
        grads["W2"] = np.dot(z1.T, dy)
        grads["b2"] = np.sum(dy, axis=0)
        dz1 = np.dot(dy, W2.T)
        da1 = sigmoid_grad(a1) * dz1
        grads["W1"] = np.dot(x.T, da1)
        grads["b1"] = np.sum(da1, axis=0)
        return grads
