"""Reads behind the API's views and the group report: functions of a guarded store returning JSON-able data."""
