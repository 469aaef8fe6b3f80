"""Grafana boards as code: panel SQL, dashboard JSON, macro expansion, deployment."""
