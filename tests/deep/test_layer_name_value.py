"""MATLAB's argument form: required arguments, then ("Name", value) pairs, for every layer and the
deep-learning functions. Before, the pairs filled the next dataclass fields in order
(convolution2dLayer(3, 20, "Padding", "same") had Stride="Padding") or raised confusing errors."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray
from dlgrad.frontend.nn import LAYERS

# layer -> (MATLAB's positional arguments, an option as MATLAB spells it, a value other than its default)
CASES = {
    "featureInputLayer": ((4,), "Name", "in"),
    "imageInputLayer": (((4, 4, 1),), "Normalization", "none"),
    "fullyConnectedLayer": ((4,), "FeatureOrder", "column-major"),
    "convolution2dLayer": ((3, 20), "Padding", "same"),
    "batchNormalizationLayer": ((), "Epsilon", 1e-3),
    "layerNormalizationLayer": ((), "OperationDimension", "channel-only"),
    "reluLayer": ((), "Name", "r"),
    "leakyReluLayer": ((), "Scale", 0.2),
    "eluLayer": ((), "Alpha", 0.5),
    "geluLayer": ((), "Approximation", "tanh"),
    "sigmoidLayer": ((), "Name", "s"),
    "tanhLayer": ((), "Name", "t"),
    "softmaxLayer": ((), "Name", "sm"),
    "dropoutLayer": ((), "Probability", 0.3),
    "flattenLayer": ((), "Name", "f"),
    "convolution1dLayer": ((3, 8), "Padding", "causal"),
    "convolution3dLayer": ((3, 8), "Stride", 2),
    "groupedConvolution2dLayer": ((3, 2, "channel-wise"), "DilationFactor", 2),
    "transposedConv2dLayer": ((3, 4), "Cropping", "same"),
    "image3dInputLayer": (((4, 4, 4, 1),), "Name", "in3"),
    "instanceNormalizationLayer": ((), "Epsilon", 1e-3),
    "groupNormalizationLayer": ((2,), "Epsilon", 1e-3),
    "crossChannelNormalizationLayer": ((5,), "K", 1.0),
    "maxPooling1dLayer": ((2,), "Stride", 2),
    "maxPooling2dLayer": ((2,), "Stride", 2),
    "maxPooling3dLayer": ((2,), "Padding", 1),
    "averagePooling1dLayer": ((2,), "Stride", 2),
    "averagePooling2dLayer": ((2,), "PaddingValue", "mean"),
    "averagePooling3dLayer": ((2,), "Stride", 2),
    "globalMaxPooling1dLayer": ((), "Name", "g1"),
    "globalMaxPooling2dLayer": ((), "Name", "g2"),
    "globalMaxPooling3dLayer": ((), "Name", "g3"),
    "globalAveragePooling1dLayer": ((), "Name", "a1"),
    "globalAveragePooling2dLayer": ((), "Name", "a2"),
    "globalAveragePooling3dLayer": ((), "Name", "a3"),
    "additionLayer": ((), "NumInputs", 3),
    "multiplicationLayer": ((), "NumInputs", 3),
    "concatenationLayer": ((), "Dim", 2),
    "depthConcatenationLayer": ((), "NumInputs", 3),
    "lstmLayer": ((4,), "OutputMode", "last"),
    "bilstmLayer": ((4,), "OutputMode", "last"),
    "gruLayer": ((4,), "ResetGateMode", "recurrent-bias-after-multiplication"),
    "sequenceInputLayer": ((3,), "MinLength", 4),
    "wordEmbeddingLayer": ((3, 5), "OOVMode", "error"),
    "positionEmbeddingLayer": ((3, 5), "Name", "pos"),
    "selfAttentionLayer": ((2, 4), "AttentionMask", "causal"),
    "attentionLayer": ((2,), "Scale", 0.5),
}


def _field(layer, option):
    return next(k for k in vars(layer) if k.lower() == option.lower())


def test_every_layer_has_a_case():
    assert sorted(CASES) == sorted(layer.__name__ for layer in LAYERS)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.__name__)
def test_name_value_pairs_equal_keywords(layer):
    args, option, value = CASES[layer.__name__]
    pairs = layer(*args, "Name", "L1", option, value) if option != "Name" else layer(*args, "Name", value)
    field = _field(pairs, option)
    keywords = layer(*args, **({"name": "L1", field: value} if option != "Name" else {"name": value}))
    assert pairs == keywords
    assert getattr(pairs, field) == getattr(keywords, field) != getattr(layer(*args), field)
    assert pairs.name == keywords.name == ("L1" if option != "Name" else value)
    # MATLAB matches the names case-insensitively; so do Python keywords here
    assert layer(*args, "NAME", pairs.name, **({} if option == "Name" else {option.upper(): value})) == pairs
    assert layer(*args, option.lower(), value, **({} if option == "Name" else {"Name": pairs.name})) == pairs


def test_a_wrong_option_name_is_named_with_its_close_match():
    with pytest.raises(TypeError, match=r"convolution2dLayer: unknown option 'Paddng'; did you mean 'Padding'"):
        dl.convolution2dLayer(3, 20, "Paddng", "same")
    with pytest.raises(TypeError, match=r"lstmLayer: unknown option 'OutputMod'; did you mean 'OutputMode'"):
        dl.lstmLayer(4, OutputMod="last")
    with pytest.raises(TypeError, match=r"fullyConnectedLayer: unknown option 'WeightsInitializer' here; assign"):
        dl.fullyConnectedLayer(10, "WeightsInitializer", "he")
    # MATLAB's per-layer factors are set on the network here: the error says how
    with pytest.raises(TypeError, match=r"'WeightLearnRateFactor' here; set it on the network: "
                                        r"setLearnRateFactor\(net, layerName, 'Weights', factor\)"):
        dl.convolution2dLayer(3, 8, "WeightLearnRateFactor", 10)


def test_an_odd_number_of_trailing_arguments_raises():
    with pytest.raises(TypeError, match=r"fullyConnectedLayer: name-value arguments come in pairs"):
        dl.fullyConnectedLayer(4, "Name")
    with pytest.raises(TypeError, match=r"convolution2dLayer: name-value arguments come in pairs"):
        dl.convolution2dLayer(3, 20, "Padding", "same", "Stride")


def test_options_are_not_positional():
    # before: Stride=2 silently, and name='Name', FeatureOrder='l1'
    with pytest.raises(TypeError, match=r"convolution2dLayer: takes filterSize, numFilters, then name-value "
                                        r"pairs; got the extra positional argument 2"):
        dl.convolution2dLayer(3, 20, 2)
    with pytest.raises(TypeError, match=r"batchNormalizationLayer: takes name-value pairs only \(no positional"):
        dl.batchNormalizationLayer(0.1)
    with pytest.raises(TypeError, match=r"fullyConnectedLayer: expected outputSize as argument 1"):
        dl.fullyConnectedLayer("Name", "fc1")
    with pytest.raises(TypeError, match=r"option 'name' given twice"):
        dl.fullyConnectedLayer(4, "Name", "a", name="b")


def test_matlab_optional_positional_arguments():
    assert dl.dropoutLayer(0.2, "Name", "d") == dl.dropoutLayer(Probability=0.2, name="d")
    assert dl.leakyReluLayer(0.2) == dl.leakyReluLayer(scale=0.2)
    assert dl.leakyReluLayer("Name", "a").scale == 0.01
    assert dl.concatenationLayer(2, 3, "Name", "cat") == dl.concatenationLayer(Dim=2, NumInputs=3, name="cat")
    assert dl.additionLayer(3, "Name", "add") == dl.additionLayer(NumInputs=3, name="add")


def test_the_brief_examples():
    assert dl.fullyConnectedLayer(4, "Name", "l1") == dl.fullyConnectedLayer(4, name="l1")
    assert dl.fullyConnectedLayer(4, "Name", "l1").FeatureOrder == "row-major"
    assert dl.convolution2dLayer(3, 20, "Padding", "same").Stride == 1
    assert dl.lstmLayer(4, "OutputMode", "last") == dl.lstmLayer(4, OutputMode="last")
    assert dl.lstmLayer(4, Name="l1").name == "l1"


rng = np.random.default_rng(0)
X = dlarray(rng.standard_normal((6, 6, 2, 3)), "SSCB")
W = rng.standard_normal((3, 3, 2, 4))
Q = dlarray(rng.standard_normal((4, 2, 5)), "CBT")
P = dl.softmax(dlarray(rng.standard_normal((3, 4)), "CB"))
T = np.eye(3)[:, [0, 1, 2, 0]]
ZERO, ONE = np.zeros(2), np.ones(2)
MASK = (rng.random((3, 4)) > 0.3).astype(float)
SEQ, H0 = rng.standard_normal((3, 2, 5)), np.zeros((2, 2))
W4, R4, B4 = rng.standard_normal((8, 3)), rng.standard_normal((8, 2)), rng.standard_normal(8)
FUNCTIONS = {   # a MATLAB-style call and the same call with keywords
    "dlconv": (lambda: dl.dlconv(X, W, 0.5, "Stride", 2, "Padding", "same"),
               lambda: dl.dlconv(X, W, 0.5, Stride=2, Padding="same")),
    "dltranspconv": (lambda: dl.dltranspconv(X, W.transpose(0, 1, 3, 2), 0, "Stride", 2),
                     lambda: dl.dltranspconv(X, W.transpose(0, 1, 3, 2), 0, Stride=2)),
    "maxpool": (lambda: dl.maxpool(X, 2, "Stride", 2), lambda: dl.maxpool(X, 2, Stride=2)),
    "avgpool": (lambda: dl.avgpool(X, 3, "stride", 1, "Padding", 1),
                lambda: dl.avgpool(X, 3, Stride=1, Padding=1)),
    "crossentropy": (lambda: dl.crossentropy(P, T, "Mask", MASK), lambda: dl.crossentropy(P, T, Mask=MASK)),
    "l2loss": (lambda: dl.l2loss(P, T, "NormalizationFactor", "all-elements"),
               lambda: dl.l2loss(P, T, NormalizationFactor="all-elements")),
    "attention": (lambda: dl.attention(Q, Q, Q, 2, "Scale", 0.3)[0], lambda: dl.attention(Q, Q, Q, 2, Scale=0.3)[0]),
    "fullyconnect": (lambda: dl.fullyconnect(np.ones((3, 4)), np.eye(3)[:2], np.ones(2), "DataFormat", "CB"),
                     lambda: dl.fullyconnect(np.ones((3, 4)), np.eye(3)[:2], np.ones(2), DataFormat="CB")),
    "layernorm": (lambda: dl.layernorm(X, ZERO, ONE, "Epsilon", 0.5),
                  lambda: dl.layernorm(X, ZERO, ONE, Epsilon=0.5)),
    "batchnorm": (lambda: dl.batchnorm(X, ZERO, ONE, "Epsilon", 0.5)[0],
                  lambda: dl.batchnorm(X, ZERO, ONE, Epsilon=0.5)[0]),
    "crosschannelnorm": (lambda: dl.crosschannelnorm(X, 3, "Alpha", 0.5),
                         lambda: dl.crosschannelnorm(X, 3, Alpha=0.5)),
    "softmax": (lambda: dl.softmax(np.ones((3, 4)), "DataFormat", "CB"),
                lambda: dl.softmax(np.ones((3, 4)), DataFormat="CB")),
    "gelu": (lambda: dl.gelu(X, "Approximation", "tanh"), lambda: dl.gelu(X, Approximation="tanh")),
    # raw (C, B, T) data labelled by DataFormat; gru in another reset-gate mode
    "lstm": (lambda: dl.lstm(SEQ, H0, H0, W4, R4, B4, "DataFormat", "CBT", "StateActivationFunction", "softsign")[0],
             lambda: dl.lstm(SEQ, H0, H0, W4, R4, B4, DataFormat="CBT", StateActivationFunction="softsign")[0]),
    "gru": (lambda: dl.gru(SEQ, H0, W4[:6], R4[:6], B4[:6], "DataFormat", "CBT",
                           "ResetGateMode", "before-multiplication")[0],
            lambda: dl.gru(SEQ, H0, W4[:6], R4[:6], B4[:6], DataFormat="CBT", ResetGateMode="before-multiplication")[0]),
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_functions_take_name_value_pairs(name):
    matlab, keywords = FUNCTIONS[name]
    np.testing.assert_array_equal(dl.extractdata(matlab()), dl.extractdata(keywords()))


def test_functions_refuse_positional_options_and_bad_pairs():
    with pytest.raises(TypeError, match=r"maxpool: takes X, poolsize, then name-value pairs"):
        dl.maxpool(X, 2, 2)
    with pytest.raises(TypeError, match=r"dlconv: unknown option 'Strides'; did you mean 'Stride'"):
        dl.dlconv(X, W, 0, "Strides", 2)
    with pytest.raises(TypeError, match=r"crossentropy: name-value arguments come in pairs"):
        dl.crossentropy(P, T, "Mask")


def test_batchnorm_still_counts_the_names_unpacked():
    mu, var = np.zeros(2), np.ones(2)
    y = dl.batchnorm(X, ZERO, ONE, mu, var, "Epsilon", 1e-3)           # one name: the inference form
    y3, m3, v3 = dl.batchnorm(X, ZERO, ONE, mu, var, "Epsilon", 1e-3)  # three: the training form
    assert not isinstance(y, tuple) and isinstance(m3, dlarray)
