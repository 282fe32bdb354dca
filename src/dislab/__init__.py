"""dislab: disentangled representation learning, the Locatello et al. (ICML 2019) study."""

__version__ = "0.1.0"
