"""viva: an offline mock-interview voice coach for ML/LLM engineering interviews."""

__version__ = "0.1.0"
