"""Small reusable widgets: level meter, KPI card, persona card, status bar."""
