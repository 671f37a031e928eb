"""The one-line progress bar ``fit`` prints per epoch, as Keras's ``utils/progbar.py`` draws it."""
from __future__ import annotations

import sys
import time


class Progress:
    """A one-line progress bar per epoch, as Keras prints it."""

    def __init__(self, epoch, epochs, steps, verbose):
        self.epoch, self.epochs, self.steps, self.verbose = epoch, epochs, steps, verbose
        self.start = time.perf_counter()

    def update(self, step, logs, final=False):
        if self.verbose != 1 and not (final and self.verbose == 2):
            return
        every = max(self.steps // 20, 1)
        if not final and step % every and step != self.steps:
            return
        width = 20
        done = int(width * step / self.steps)
        bar = "━" * done + ("╸" if done < width else "") + " " * max(width - done - 1, 0)
        elapsed = time.perf_counter() - self.start
        text = " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())
        line = f"Epoch {self.epoch + 1}/{self.epochs}  {step}/{self.steps} {bar} {elapsed:.1f}s - {text}"
        end = "\n" if final else ""
        sys.stdout.write("\r" + line + end)
        sys.stdout.flush()
