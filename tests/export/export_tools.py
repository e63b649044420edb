"""Running compilers and the generic C driver (driver.c) against an export, for the export tests."""
import os
import shutil
import subprocess

import numpy as np

GCC = shutil.which("gcc")
STRICT = ["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror"]
DRIVER = os.path.join(os.path.dirname(__file__), "driver.c")


def run(argv, cwd=None, check=True):
    done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, argv))} failed ({done.returncode}):\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def drive(paths, inputs, outputs, threads=None):
    """Build driver.c against the export at `paths`, feed it `inputs` (arrays of the export's dtypes).

    outputs: [(shape, dtype)]. Returns (output arrays, the interface lines the driver printed).
    """
    directory = os.path.dirname(paths["source"])
    name = os.path.basename(paths["source"])[:-2]
    exe = os.path.join(directory, f"{name}_driver")
    if not os.path.exists(exe):
        run([GCC, "-O2", *STRICT, "-c", paths["source"], "-o", exe + ".o"])
        run([GCC, "-O2", "-std=c99", "-D_POSIX_C_SOURCE=200809L", f"-DFN={name}", f'-DHEADER="{name}.h"',
             f"-I{directory}", DRIVER, exe + ".o", "-o", exe, "-pthread", "-lm"])
    sizes = "".join(str(np.dtype(a.dtype).itemsize) for a in inputs)
    sizes += "".join(str(np.dtype(d).itemsize) for _, d in outputs)
    with open(exe + ".in", "wb") as handle:
        for array in inputs:
            handle.write(np.ascontiguousarray(array).tobytes())
    done = run([exe, sizes, exe + ".in", exe + ".out", *([threads, 50] if threads else [])])
    with open(exe + ".out", "rb") as handle:
        raw = handle.read()
    arrays, at = [], 0
    for shape, dtype in outputs:
        count = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        arrays.append(np.frombuffer(raw[at:at + count], dtype).reshape(shape))
        at += count
    return arrays, done.stdout.splitlines()
