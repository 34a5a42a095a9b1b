"""A book-style two-layer net (Deep Learning from Scratch, ch. 4), as a learner writes it.

The worked example of the README's "Check your own implementation":

    python -m compare.run --impl docs/example/two_layer_net.py:TwoLayerNet
"""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01):
        self.params = {
            "W1": weight_init_std * np.random.randn(input_size, hidden_size),
            "b1": np.zeros(hidden_size),
            "W2": weight_init_std * np.random.randn(hidden_size, output_size),
            "b2": np.zeros(output_size),
        }

    def predict(self, x):
        h = sigmoid(x @ self.params["W1"] + self.params["b1"])
        return h @ self.params["W2"] + self.params["b2"]

    def loss(self, x, t):  # t one-hot, as in the book
        y = softmax(self.predict(x))
        return -np.sum(t * np.log(y + 1e-7)) / x.shape[0]

    def accuracy(self, x, t):
        return np.mean(np.argmax(self.predict(x), axis=1) == np.argmax(t, axis=1))

    def gradient(self, x, t):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        h = sigmoid(x @ W1 + b1)  # (N, H)
        dy = (softmax(h @ W2 + b2) - t) / x.shape[0]  # (N, C)
        da = (dy @ W2.T) * h * (1 - h)  # (N, H)
        return {"W1": x.T @ da, "b1": da.sum(axis=0), "W2": h.T @ dy, "b2": dy.sum(axis=0)}
