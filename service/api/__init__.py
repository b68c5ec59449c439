"""The JSON API: one router per resource, dependencies in ``deps``."""
