"""Web pages: typed page contexts and the views that render them from ``templates/``."""
