"""bc-payment-viewer: the Qt-free core (no widgets here)."""
__version__ = "0.1.0"
