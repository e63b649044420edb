"""scipy.optimize with compiled objectives: objective(fn) for scipy's callbacks, minimize(fn, x0).

    import scipy.optimize
    from dlgrad.optimize import objective, minimize

    obj = objective(rosen)                       # rosen(x) -> scalar dlarray
    scipy.optimize.minimize(obj, x0, jac=True, method="L-BFGS-B")
    minimize(rosen, x0, method="trust-ncg")      # jac and hessp passed for the method

scipy is needed only by minimize (pip install 'dlgrad[scipy]').
"""
from .constraints import ConstraintFunction
from .objective import Objective, objective
from .scipy_minimize import minimize

__all__ = ["objective", "minimize", "Objective", "ConstraintFunction"]
