"""wirebuf: fast binary record and protocol streams.

Subpackages: ``wirebuf.marc`` (MARC 21 / ISO 2709, pymarc-compatible).
The C core is the extension module ``wirebuf._marc``.
"""

__version__ = "0.2.0"
