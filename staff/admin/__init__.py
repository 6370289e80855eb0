"""Admin pages: staff, hours, absences, services, languages, opening hours, duty rota, recordings."""
from __future__ import annotations
