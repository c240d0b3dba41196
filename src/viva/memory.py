"""Handing freed memory back to the system between answers.

glibc keeps freed heap pages for reuse; after each synthesis and each decode (short-lived buffers of a few
MB from onnxruntime, CTranslate2 and torch, on several threads) the process's RSS otherwise only grows:
Piper alone went from 140 to 650 MB over 40 questions and answers. ``malloc_trim(0)`` returns them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger("viva")
_trim = None


def release() -> None:
    """``malloc_trim(0)`` where the C library has it (glibc); a no-op elsewhere."""
    global _trim
    if _trim is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _trim = libc.malloc_trim
            _trim.argtypes, _trim.restype = [ctypes.c_size_t], ctypes.c_int
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)
