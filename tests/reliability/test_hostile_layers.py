"""A MATLAB user porting layer code: sizes MATLAB refuses, Epsilon that makes NaN, MATLAB's [] as the
first optimizer state, attention over no keys. Each failed silently or unclearly before."""
import numpy as np
import pytest

import dlgrad as dl
from dlgrad import dlarray


@pytest.mark.parametrize("make, message", [
    # before: an empty (5, 7, 0, B) output, silently
    (lambda: dl.convolution2dLayer(3, 0), r"convolution2dLayer: numFilters must be a positive integer, got 0"),
    # before: "too many values to unpack (expected 2)" at initialisation
    (lambda: dl.convolution2dLayer([3, 3, 3], 2), r"convolution2dLayer: filterSize must be a positive integer "
                                                  r"or 2 of them, got \[3, 3, 3\]"),
    # before: ZeroDivisionError at initialisation
    (lambda: dl.convolution2dLayer(0, 2), r"convolution2dLayer: filterSize must be"),
    (lambda: dl.convolution1dLayer([3, 3], 2), r"convolution1dLayer: filterSize must be a positive integer, got"),
    (lambda: dl.convolution3dLayer(3, -2), r"convolution3dLayer: numFilters must be a positive integer, got -2"),
    (lambda: dl.groupedConvolution2dLayer(3, 2, 0), r"groupedConvolution2dLayer: numGroups .* got 0"),
    (lambda: dl.transposedConv2dLayer(3, 0), r"transposedConv2dLayer: numFilters must be a positive integer"),
    (lambda: dl.maxPooling2dLayer([2, 2, 2]), r"maxPooling2dLayer: poolSize must be a positive integer or 2 of them"),
    # before: a (0, B) output, silently; 2.5 gave "'float' object cannot be interpreted as an integer"
    (lambda: dl.fullyConnectedLayer(0), r"fullyConnectedLayer: outputSize must be a positive integer, got 0"),
    (lambda: dl.fullyConnectedLayer(2.5), r"fullyConnectedLayer: outputSize must be a positive integer, got 2.5"),
    (lambda: dl.featureInputLayer(0), r"featureInputLayer: inputSize must be a positive integer, got 0"),
    # before: NaN outputs with a RuntimeWarning (sqrt of a negative variance + Epsilon)
    (lambda: dl.layerNormalizationLayer(Epsilon=-1), r"layerNormalizationLayer: Epsilon must be a positive number"),
    (lambda: dl.batchNormalizationLayer(Epsilon=0), r"batchNormalizationLayer: Epsilon must be a positive number"),
    (lambda: dl.instanceNormalizationLayer(Epsilon=-1e-3), r"instanceNormalizationLayer: Epsilon must be"),
    (lambda: dl.groupNormalizationLayer(2, Epsilon=float("nan")), r"groupNormalizationLayer: Epsilon must be"),
])
def test_layers_refuse_what_matlab_refuses(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_valid_sizes_still_build_and_keep_their_form():
    assert dl.convolution2dLayer([3, 2], 4).filterSize == (3, 2)
    assert dl.convolution3dLayer(np.int64(3), 2).filterSize == (3, 3, 3)
    assert dl.groupedConvolution2dLayer(3, 2, "Channel-Wise").numGroups == "Channel-Wise"
    assert dl.maxPooling2dLayer(2).poolSize == 2 and dl.maxPooling2dLayer([2, 3]).poolSize == (2, 3)
    assert dl.fullyConnectedLayer(np.int32(3)).outputSize == 3


def test_adamupdate_takes_matlabs_empty_first_state():
    # MATLAB: averageGrad = []; averageSqGrad = []; then adamupdate. Before: "the optimizer state has
    # 0 arrays but the parameters 2"
    net = dl.dlnetwork([dl.featureInputLayer(2), dl.fullyConnectedLayer(1)])
    grad = net.Learnables.map(lambda v: v * 0 + 0.5)
    expected, m, v = dl.adamupdate(net, grad, None, None, 1)
    for empty in ([], np.zeros((0, 0))):
        got, m2, v2 = dl.adamupdate(net, grad, empty, empty, 1)
        for a, b in zip(got.Learnables.Value, expected.Learnables.Value):
            np.testing.assert_array_equal(dl.extractdata(a), dl.extractdata(b))
    net2, vel = dl.sgdmupdate(net, grad, [])
    assert len(vel) == len(net.Learnables)


def test_self_attention_over_zero_steps_is_named():
    # before: numpy's "zero-size array to reduction operation max which has no identity"
    net = dl.dlnetwork([dl.sequenceInputLayer(4), dl.selfAttentionLayer(2, 4)])
    with pytest.raises(dl.FormatError, match=r"attention: the keys have 0 steps"):
        dl.predict(net, dlarray(np.ones((4, 2, 0)), "CBT"))


def test_concatenation_along_the_batch_is_refused():
    # MATLAB's concatenationLayer(1, 2) joins the channels of "CB" data; ported as is, Dim 1 is the
    # batch here, and two branches of one width were silently stacked into 2N observations
    graph = dl.layerGraph([dl.featureInputLayer(3, name="in"), dl.fullyConnectedLayer(4, name="fc1"),
                           dl.concatenationLayer(1, 2, name="joined")])
    graph = dl.addLayers(graph, dl.fullyConnectedLayer(4, name="fc2"))
    graph = dl.connectLayers(graph, "in", "fc2")
    graph = dl.connectLayers(graph, "fc2", "joined/in2")
    with pytest.raises(dl.FormatError, match=r"concatenationLayer 'joined': Dim 1 is the observation \('B'\) "
                                             r"axis of 'CB' data.*Dim=0 here"):
        dl.dlnetwork(graph)


def test_a_window_longer_than_the_example_sequence_names_min_length():
    # before: "maxpool: the pool size (2,) is larger than the padded input (1,)" at dlnetwork(...),
    # with nothing pointing at sequenceInputLayer's MinLength (the example length)
    with pytest.raises(ValueError, match=r"pool size .*initialising layer 'pool' on example sequences of 1 time "
                                         r"step.*MinLength"):
        dl.dlnetwork([dl.sequenceInputLayer(3), dl.maxPooling1dLayer(2, name="pool")])
    net = dl.dlnetwork([dl.sequenceInputLayer(3, MinLength=2), dl.maxPooling1dLayer(2, name="pool")])
    assert dl.predict(net, dlarray(np.ones((3, 1, 4)), "CBT")).shape == (3, 1, 3)   # Stride 1


def test_maxpool_unpacked_into_three_names_returns_the_indices():
    # MATLAB's [Y, indx, inputSize] = maxpool(X, 2, 'Stride', 2); before, the three names took the three
    # rows of Y (its first axis has 3 entries here) without a word
    X = dlarray(np.arange(72.0).reshape(6, 6, 2, 1) % 7, "SSCB")
    Y, indx, inputSize = dl.maxpool(X, 2, Stride=2)
    assert Y.shape == (3, 3, 2, 1) and indx.shape == Y.shape and tuple(inputSize) == (6, 6, 2, 1)
    np.testing.assert_array_equal(dl.extractdata(dl.maxpool(X, 2, "Stride", 2)), dl.extractdata(Y))
    unpooled = dl.maxunpool(Y, indx, inputSize)
    np.testing.assert_array_equal(np.sort(dl.extractdata(unpooled)[dl.extractdata(unpooled) != 0]),
                                  np.sort(dl.extractdata(Y)[dl.extractdata(Y) != 0]))


def test_forward_unpacked_into_two_names_returns_the_state():
    # MATLAB's [Y, state] = forward(net, X); before, Y and state took the two rows of a 2-output Y
    net = dl.dlnetwork([dl.featureInputLayer(3), dl.fullyConnectedLayer(2), dl.batchNormalizationLayer()])
    X = dlarray(np.random.default_rng(0).standard_normal((3, 5)), "CB")
    Y, state = dl.forward(net, X)
    assert Y.shape == (2, 5) and isinstance(state, dl.Learnables) and len(state) == 2
    expected_Y, expected_state = dl.forward(net, X, return_state=True)
    np.testing.assert_array_equal(dl.extractdata(Y), dl.extractdata(expected_Y))
    for a, b in zip(state.Value, expected_state.Value):
        np.testing.assert_array_equal(dl.extractdata(a), dl.extractdata(b))
    Y, state = dl.predict(net, X)
    assert Y.shape == (2, 5) and isinstance(state, dl.Learnables)
    assert dl.forward(net, X).shape == (2, 5)      # one name: the output alone

    def loss(net, X):   # the same inside dlfeval, as a custom training loop writes it
        Y, state = dl.forward(net, X)
        return dl.sum(Y), state
    value, state = dl.dlfeval(loss, net, X)
    assert isinstance(state, dl.Learnables)


def test_dlnetwork_takes_initialize_as_a_name_value_pair():
    # MATLAB's dlnetwork(layers, 'Initialize', false); before: "initialisation needs 0 example inputs, got 2"
    layers = [dl.featureInputLayer(2), dl.fullyConnectedLayer(1)]
    assert not dl.dlnetwork(layers, "Initialize", False).Initialized
    assert dl.dlnetwork(layers, "initialize", True).Initialized
    with pytest.raises(TypeError, match=r"dlnetwork: unknown option 'Initialise'; did you mean 'Initialize'"):
        dl.dlnetwork(layers, "Initialise", False)


def test_image_input_layers_check_the_image_size():
    # before: a fully convolutional network took 6x7 images into a (4, 5, 2) imageInputLayer silently,
    # and wrong channels failed in the first convolution ("numChannelsPerGroup (2) x numGroups (1)")
    net = dl.dlnetwork([dl.imageInputLayer((4, 5, 2), Normalization="none", name="img"),
                        dl.convolution2dLayer(3, 3, Padding="same")])
    assert dl.predict(net, dlarray(np.ones((4, 5, 2, 3)), "SSCB")).shape == (4, 5, 3, 3)
    for shape, fmt in (((6, 7, 2, 3), "SSCB"), ((4, 5, 3, 3), "SSCB"), ((2, 3, 4), "CBT")):
        with pytest.raises(ValueError, match=r"imageInputLayer 'img' takes 'SSC' images of size \(4, 5, 2\)"):
            dl.predict(net, dlarray(np.ones(shape), fmt))
    # (h, w, d) is one channel, as (h, w) is for imageInputLayer; before, example() mislabelled it
    net3 = dl.dlnetwork([dl.image3dInputLayer((4, 4, 4)), dl.convolution3dLayer(3, 2)])
    assert dl.predict(net3, dlarray(np.ones((4, 4, 4, 1, 2)), "SSSCB")).shape == (2, 2, 2, 2, 2)
    with pytest.raises(ValueError, match=r"image3dInputLayer 'imageinput3d' takes 'SSSC' images"):
        dl.predict(net3, dlarray(np.ones((4, 4, 5, 1, 2)), "SSSCB"))


def test_a_layer_name_with_a_slash_is_refused_by_name():
    # before: "dlnetwork: no layer named 'a' for the destination" (the chain's connection read 'a/b' as a port)
    with pytest.raises(ValueError, match=r"addLayers: layer name 'a/b' of fullyConnectedLayer must be a string "
                                         r"without '/'"):
        dl.dlnetwork([dl.featureInputLayer(3, name="in"), dl.fullyConnectedLayer(2, name="a/b")])
    with pytest.raises(ValueError, match=r"layer name 3 of reluLayer must be a string"):
        dl.layerGraph([dl.featureInputLayer(3), dl.reluLayer(name=3)])


def test_solver_and_padding_functions_take_name_value_pairs():
    # before: lbfgsState('HistorySize', 5) said "HistorySize must be a positive integer, got 'HistorySize'",
    # padsequences(X, 1, 'Length', 'shortest') "takes 2 positional arguments but 4 were given"
    assert dl.lbfgsState("HistorySize", 5).HistorySize == 5
    with pytest.raises(TypeError, match=r"lbfgsState: unknown option 'HistorySise'; did you mean 'HistorySize'"):
        dl.lbfgsState("HistorySise", 5)
    XPad, mask = dl.padsequences([np.ones((2, 3)), np.ones((2, 5))], 1, "Length", "shortest")
    assert XPad.shape == (2, 3, 2) and mask.shape == (2, 3, 2)


@pytest.mark.parametrize("make, message", [
    # before: accepted, and refused only at the first call that used them (dropout: in training only)
    (lambda: dl.dropoutLayer(1.5), r"dropoutLayer: Probability must be a number in \[0, 1\), got 1.5"),
    (lambda: dl.groupNormalizationLayer(0), r"groupNormalizationLayer: numGroups must be 'all-channels', "
                                            r"'channel-wise' or a positive integer, got 0"),
    (lambda: dl.groupNormalizationLayer(True), r"groupNormalizationLayer: numGroups must be"),
    (lambda: dl.crossChannelNormalizationLayer(0), r"crossChannelNormalizationLayer: windowChannelSize must be a "
                                                   r"positive integer, got 0"),
    (lambda: dl.concatenationLayer(-1, 2), r"concatenationLayer: Dim must be a 0-based axis"),
])
def test_layers_check_their_options_when_built(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_batch_statistics_of_an_empty_mini_batch_are_refused():
    # before: NaN statistics, and Y, state = forward(net, X) put NaN into TrainedMean and TrainedVariance
    net = dl.dlnetwork([dl.featureInputLayer(2), dl.batchNormalizationLayer()])
    with pytest.raises(ValueError, match=r"batchnorm: batch statistics need at least one value per channel"):
        dl.forward(net, dlarray(np.ones((2, 0)), "CB"), return_state=True)
    assert dl.predict(net, dlarray(np.ones((2, 0)), "CB")).shape == (2, 0)   # trained statistics: fine


def test_maxunpool_refuses_an_output_size_with_other_channels_or_observations():
    # before: flat positions read in a (5, 5, 4, 1) layout scattered the maxima of two observations into
    # the channels of one, silently
    X = dlarray(np.random.default_rng(1).standard_normal((5, 5, 2, 2)), "SSCB")
    Y, indx, inputSize = dl.maxpool(X, 2, Stride=2, return_indices=True)
    with pytest.raises(ValueError, match=r"maxunpool: outputSize \(5, 5, 4, 1\) must keep X's sizes"):
        dl.maxunpool(Y, indx, (5, 5, 4, 1))
    assert dl.maxunpool(Y, indx, inputSize).shape == (5, 5, 2, 2)
