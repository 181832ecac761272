"""Coachdesk core: configuration, domain model, practice flow, KPIs and the CLI entry point."""
