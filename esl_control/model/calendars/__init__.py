"""Calendars: day groups (weekdays + holidays / special dates by year) and schedules (intervals)."""
