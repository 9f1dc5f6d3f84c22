"""Numba kernels over :class:`stream.core.columns.Columns`: the engine's hot loops, compiled.

They are fed whole batches of rows from other kernels or from the batch API, never called
once per event from Python (entering a compiled function costs about 2.6 us). Each module
ports one rule of the Python modules beside this package, tested equal to it.
"""
