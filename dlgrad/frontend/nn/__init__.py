"""Deep learning on dlarrays: activations, losses, layers' functions, dlnetwork, optimizers."""
from .activations import elu, gelu, leakyrelu, logsoftmax, relu, sigmoid, softmax, tanh
from .conv import avgpool, dlconv, maxpool
from .convolution import dltranspconv
from .conv_layers import CONV_LAYERS
from .conv_layers import (convolution1dLayer, convolution3dLayer, groupedConvolution2dLayer, image3dInputLayer,
                          sequenceInputLayer, transposedConv2dLayer)
from .linear import dropout, dropout_mask, embed, fullyconnect
from .losses import crossentropy, huber, indexcrossentropy, l1loss, l2loss, mse
from .normalization import batchnorm, layernorm
from .layers import LAYERS
from .layers import (averagePooling2dLayer, batchNormalizationLayer, convolution2dLayer, dropoutLayer,
                     eluLayer, featureInputLayer, flattenLayer, fullyConnectedLayer, geluLayer,
                     imageInputLayer, layerNormalizationLayer, leakyReluLayer, maxPooling2dLayer,
                     reluLayer, sigmoidLayer, softmaxLayer, tanhLayer)
from .network import Learnables, dlnetwork, dlupdate, dropout_masks, forward, predict
from .optimizers import adamupdate, rmspropupdate, sgdmupdate
from .lbfgs import lbfgsState, lbfgsupdate
from .schedules import piecewiseSchedule, timeBasedDecay, warmupSchedule

__all__ = ["elu", "gelu", "leakyrelu", "logsoftmax", "softmax",
           "avgpool", "dlconv", "maxpool", "dropout", "dropout_mask", "embed", "fullyconnect",
           "crossentropy", "huber", "indexcrossentropy", "l1loss", "l2loss", "mse",
           "batchnorm", "layernorm", *(layer.__name__ for layer in LAYERS),
           "dltranspconv", *(layer.__name__ for layer in CONV_LAYERS),
           "Learnables", "dlnetwork", "dlupdate", "dropout_masks", "forward", "predict",
           "adamupdate", "rmspropupdate", "sgdmupdate", "lbfgsState", "lbfgsupdate",
           "piecewiseSchedule", "timeBasedDecay", "warmupSchedule"]
