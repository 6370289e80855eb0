"""The calendar domain: counselors, services, availability and bookings.

Nothing in this package imports Flask or Twilio; callers pass in the session and "now".
"""
