"""Jobs: quality control, daily classification, monthly roll-up; each a thin call of domain code."""
