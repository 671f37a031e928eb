"""The model classes: ``BaseModel`` (layers + the training loop) and its two subclasses, the
``Sequential`` stack and the functional ``Model`` graph."""
from .functional import Model, map_graph
from .model import BaseModel
from .sequential import Sequential
