"""The blog's two-learnable loop: y = (x2 - x1^2)^2 + (1 - x1)^2 from x1 = x2 = 2.

Gradient descent with a constant learning rate, then with time-based decay
lr0 / (1 + decay * iteration), as in "Key terms in custom training loops".
"""
import numpy as np

from dlgrad import dlarray, dlfeval, dlgradient, extractdata


def my_loss(x1, x2):
    y = (x2 - x1 ** 2) ** 2 + (1 - x1) ** 2
    dydx1, dydx2 = dlgradient(y, x1, x2)
    return y, dydx1, dydx2


def train(learn_rate, decay=0.0, iterations=100):
    x1, x2 = dlarray(2.0), dlarray(2.0)
    for iteration in range(iterations):
        lr = learn_rate / (1 + decay * iteration)
        loss, dydx1, dydx2 = dlfeval(my_loss, x1, x2)
        x1, x2 = x1 - lr * dydx1, x2 - lr * dydx2
    return float(extractdata(x1)), float(extractdata(x2)), float(extractdata(loss))


if __name__ == "__main__":
    for label, args in (("learn rate 0.1", (0.1,)), ("learn rate 0.2", (0.2,)),
                        ("time-based decay 0.2/(1 + 0.01 it)", (0.2, 0.01))):
        x1, x2, loss = train(*args)
        print(f"{label:36s} x1 = {x1:.4f}  x2 = {x2:.4f}  loss = {loss:.3g}")
