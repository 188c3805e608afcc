"""Threats 5 and 6 (SECURITY.md): disarm the audit hook, then fork a grandchild that outlives the grade."""

import os

import numpy as np

def switch_off_the_audit_hook():
    """Reach the Guard through the garbage collector and disarm it: from here on, only
    the operating-system layers stand."""
    import gc

    for obj in gc.get_objects():
        if type(obj).__name__ == "Guard":
            obj.busy = True


def build_model():
    switch_off_the_audit_hook()
    if os.fork() == 0:
        os.setsid()
        __import__("time").sleep(600)
        os._exit(0)
    return lambda x: np.zeros((len(x), 10), dtype=np.float32)
