"""kefu: a self-hosted, offline-first customer-service agent for e-commerce."""

__version__ = "0.1.0"
