"""Deep learning on dlarrays: activations, losses, layers' functions, dlnetwork, optimizers."""
from .activations import elu, gelu, leakyrelu, logsoftmax, relu, sigmoid, softmax, tanh
from .convolution import dlconv, dltranspconv
from .pooling import avgpool, maxpool, maxunpool
from .conv_layers import (convolution1dLayer, convolution3dLayer, groupedConvolution2dLayer, image3dInputLayer,
                          transposedConv2dLayer)
from .linear import dropout, dropout_mask, embed, fullyconnect
from .losses import crossentropy, indexcrossentropy
from .regression import huber, l1loss, l2loss, mse
from .normalization import batchnorm, layernorm
from .normalization import crosschannelnorm, groupnorm, instancenorm
from .layers import LAYERS
from .layers import (batchNormalizationLayer, convolution2dLayer, dropoutLayer,
                     eluLayer, featureInputLayer, flattenLayer, fullyConnectedLayer, geluLayer,
                     imageInputLayer, layerNormalizationLayer, leakyReluLayer,
                     reluLayer, sigmoidLayer, softmaxLayer, tanhLayer)
from .normlayers import (crossChannelNormalizationLayer, groupNormalizationLayer,
                         instanceNormalizationLayer)
from .pooling_layers import (averagePooling1dLayer, averagePooling2dLayer, averagePooling3dLayer,
                             globalAveragePooling1dLayer, globalAveragePooling2dLayer,
                             globalAveragePooling3dLayer, globalMaxPooling1dLayer, globalMaxPooling2dLayer,
                             globalMaxPooling3dLayer, maxPooling1dLayer, maxPooling2dLayer, maxPooling3dLayer)
from .network import Learnables, dlnetwork, dlupdate, dropout_masks, forward, initialize, predict, resetState
from .layergraph import (LayerGraph, addLayers, additionLayer, concatenationLayer, connectLayers,
                         depthConcatenationLayer, disconnectLayers, layerGraph, multiplicationLayer, removeLayers)
from .attention import attention
from .recurrent import gru, lstm
from .recurrent_layers import bilstmLayer, gruLayer, lstmLayer
from .sequence_padding import padsequences
from .sequence_layers import (attentionLayer, positionEmbeddingLayer, selfAttentionLayer, sequenceInputLayer,
                              wordEmbeddingLayer)
from .factors import getL2Factor, getLearnRateFactor, setL2Factor, setLearnRateFactor
from .optimizers import adamupdate, rmspropupdate, sgdmupdate
from .lbfgs import lbfgsState, lbfgsupdate
from .schedules import piecewiseSchedule, timeBasedDecay, warmupSchedule

__all__ = ["elu", "gelu", "leakyrelu", "logsoftmax", "softmax",
           "relu", "sigmoid", "tanh",   # MATLAB's deep-learning operations too; the same objects as dlgrad.relu ...
           "avgpool", "dlconv", "maxpool", "maxunpool", "dropout", "dropout_mask", "embed", "fullyconnect",
           "crossentropy", "huber", "indexcrossentropy", "l1loss", "l2loss", "mse",
           "batchnorm", "layernorm", "crosschannelnorm", "groupnorm", "instancenorm",
           # the layers, written out so that type checkers see them (a test checks they are LAYERS)
           "featureInputLayer", "imageInputLayer", "fullyConnectedLayer", "convolution2dLayer",
           "batchNormalizationLayer", "layerNormalizationLayer", "reluLayer", "leakyReluLayer", "eluLayer",
           "geluLayer", "sigmoidLayer", "tanhLayer", "softmaxLayer", "dropoutLayer", "flattenLayer",
           "instanceNormalizationLayer", "groupNormalizationLayer", "crossChannelNormalizationLayer",
           "maxPooling1dLayer", "maxPooling2dLayer", "maxPooling3dLayer",
           "averagePooling1dLayer", "averagePooling2dLayer", "averagePooling3dLayer",
           "globalMaxPooling1dLayer", "globalMaxPooling2dLayer", "globalMaxPooling3dLayer",
           "globalAveragePooling1dLayer", "globalAveragePooling2dLayer", "globalAveragePooling3dLayer",
           "additionLayer", "multiplicationLayer", "concatenationLayer", "depthConcatenationLayer",
           "sequenceInputLayer", "wordEmbeddingLayer", "positionEmbeddingLayer", "selfAttentionLayer",
           "attentionLayer",
           "convolution1dLayer", "convolution3dLayer", "groupedConvolution2dLayer", "transposedConv2dLayer",
           "image3dInputLayer",
           "dltranspconv",
           "Learnables", "dlnetwork", "dlupdate", "dropout_masks", "forward", "predict",
           "adamupdate", "rmspropupdate", "sgdmupdate", "lbfgsState", "lbfgsupdate",
           "piecewiseSchedule", "timeBasedDecay", "warmupSchedule",
           "initialize", "resetState", "LayerGraph", "layerGraph", "addLayers", "connectLayers",
           "disconnectLayers", "removeLayers", "setLearnRateFactor", "getLearnRateFactor", "setL2Factor", "getL2Factor",
           "attention",
           "lstm", "gru", "lstmLayer", "gruLayer", "bilstmLayer", "padsequences"]
