"""Admin pages: staff, hours, absences, services, languages, opening hours, duty rota, recordings, the audit trail."""
from __future__ import annotations

from staff.admin import audit, calendar, centre, people, recordings  # noqa: F401  (their routes join the blueprint)
