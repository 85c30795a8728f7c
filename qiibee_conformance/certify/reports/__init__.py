"""Certification reports: JSON, self-contained HTML, and pytest's JUnit XML."""
