"""chipfleet: where to train and serve generative AI, and what it costs in time, money, energy and carbon."""

__version__ = "0.1.0"
