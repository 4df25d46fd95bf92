"""Incidents: mentions of one event grouped so one officer works them (issue 15)."""
