"""Offline-first sync: SQLite cache, outbox, Supabase client and the auth session."""
