"""dlconv and dltranspconv, kept importable from here: they live in convolution.py (a primitive
with loop kernels), pooling in pooling.py, the shared window geometry in window.py."""
from .convolution import dlconv, dltranspconv  # noqa: F401  (re-exported)
