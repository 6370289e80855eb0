"""Admin pages: staff, hours, absences, services, languages, opening hours, duty rota, recordings."""
from __future__ import annotations

from staff.admin import calendar, centre, people, recordings  # noqa: F401  (their routes join the blueprint)
