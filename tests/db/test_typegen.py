from server.db.typegen import TARGET, generate


def test_checked_in_types_match_the_migrated_schema(database_dsn):
    expected = generate(database_dsn)
    assert TARGET.read_text() == expected, (
        "sync/db_types.py is stale: run `make types` and commit it with the migration"
    )


def test_generated_models_parse_a_real_row(admin_conn):
    from sync.db_types import TABLES, AttemptStatus

    row = admin_conn.execute("select * from public.scenarios limit 1").fetchone()
    scenario = TABLES["scenarios"].model_validate(row)
    assert scenario.title
    assert AttemptStatus("scored") is AttemptStatus.SCORED
