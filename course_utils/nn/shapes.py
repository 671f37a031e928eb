"""Shapes as Keras prints them; the one helper every floor of ``nn`` uses (the ground of the ground floor)."""
from __future__ import annotations


def shape_str(shape):
    """``(2, 5)`` for a shape, with ``None`` for an unknown batch size, as Keras prints it."""
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + (",)" if len(shape) == 1 else ")")
