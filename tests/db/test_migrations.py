from server.db.migrate import discover


def test_migrations_are_recorded_in_order(admin_conn):
    recorded = [
        r["version"]
        for r in admin_conn.execute(
            "select version from supabase_migrations.schema_migrations order by version"
        )
    ]
    assert recorded == [m.version for m in discover()]
