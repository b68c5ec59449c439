"""Compensation statements at the edge: JSON, HTML, PDF, XLSX and CSV renderings, issuing."""
