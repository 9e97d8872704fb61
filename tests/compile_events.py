"""Code for a child interpreter that records the kernels it compiles (the cold-start tests).

``COMPILES_LISTENER`` defines ``compiled``, a list that gets the name of each of our kernels
the child compiles (numba's ``numba:compile`` events), before the test's own code runs.
"""

COMPILES_LISTENER = """
from numba.core import event
compiled = []
class Compiles(event.Listener):
    def on_start(self, ev):
        pass
    def on_end(self, ev):
        func = ev.data["dispatcher"].py_func
        if func.__module__.startswith("himed_rewards"):
            compiled.append(func.__name__)
event.register("numba:compile", Compiles())
"""
