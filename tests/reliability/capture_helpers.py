"""A module of helpers with globals of their own, read by objectives defined in the tests."""
import dlgrad as dl

GAIN = 1.0


def scaled(x):
    """x times this module's GAIN."""
    return x * GAIN


def affine(params, x):
    """params["W"] @ x + params["b"], for a dict of dlarrays held anywhere."""
    return dl.sum(params["W"] * x) + params["b"]
