"""Deep learning on dlarrays: activations, losses, layers' functions, dlnetwork, optimizers."""
from .activations import elu, gelu, leakyrelu, logsoftmax, relu, sigmoid, softmax, tanh
from .conv import avgpool, dlconv, maxpool
from .linear import dropout, dropout_mask, embed, fullyconnect
from .losses import crossentropy, huber, indexcrossentropy, l1loss, l2loss, mse
from .normalization import batchnorm, layernorm

__all__ = ["elu", "gelu", "leakyrelu", "logsoftmax", "softmax",
           "avgpool", "dlconv", "maxpool", "dropout", "dropout_mask", "embed", "fullyconnect",
           "crossentropy", "huber", "indexcrossentropy", "l1loss", "l2loss", "mse",
           "batchnorm", "layernorm"]
