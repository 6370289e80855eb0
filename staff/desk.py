"""The reception desk: every counselor's day, finding a caller, booking, moving, cancelling."""
from __future__ import annotations
