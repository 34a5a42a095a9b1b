"""The report: its typed model, its renderers (text, Markdown, CSV, charts, the teaching page) and its files."""
