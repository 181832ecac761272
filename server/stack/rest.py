"""`/rest/v1`: the PostgREST subset the supabase client uses.

Each request is one transaction on a pooled `authenticator` connection that first does
`set_config('role', <token role>, true)` (exactly `SET LOCAL ROLE`, as PostgREST does it) and
`set_config('request.jwt.claims', <claims>, true)`, then runs one statement. Which rows exist,
may be read or written is decided by the database's grants and RLS policies alone.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from psycopg import sql
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.stack import query as q
from server.stack.bodies import MalformedJson, parse_json
from server.stack.context import StackState, as_role, authenticate
from server.stack.query import ApiError

SINGLE_OBJECT = "application/vnd.pgrst.object+json"
JSON_TYPE = "application/json; charset=utf-8"


# -- errors --------------------------------------------------------------------------------------

_CLASS_STATUS = {
    "08": 503,
    "09": 500,
    "0L": 403,
    "0P": 403,
    "25": 500,
    "28": 403,
    "2D": 500,
    "38": 500,
    "39": 500,
    "3B": 500,
    "40": 500,
    "53": 503,
    "54": 500,
    "55": 500,
    "57": 500,
    "58": 500,
    "F0": 500,
    "HV": 500,
    "P0": 500,
    "XX": 500,
}
_CODE_STATUS = {
    "23503": 409,
    "23505": 409,
    "25006": 405,
    "P0001": 400,
    "42883": 404,
    "42P01": 404,
    "42P17": 500,
}


def database_error(exc: psycopg.Error, role: str) -> ApiError:
    """PostgREST's mapping of SQLSTATE to HTTP status, with the database's own message."""
    if exc.sqlstate is None:
        return _client_side_error(exc)
    code = exc.sqlstate
    if code == "42501":
        status = 401 if role == "anon" else 403
    else:
        status = _CODE_STATUS.get(code) or _CLASS_STATUS.get(code[:2], 400)
    diag = exc.diag
    return ApiError(
        status,
        code,
        diag.message_primary or str(exc),
        details=diag.message_detail,
        hint=diag.message_hint,
    )


def _client_side_error(exc: psycopg.Error) -> ApiError:
    """A psycopg error raised before the database saw the statement (no SQLSTATE)."""
    if isinstance(exc, psycopg.DataError):
        # A value Postgres cannot take as text (a NUL character): the request's fault.
        return ApiError(400, "22021", str(exc), hint="Remove NUL characters from the values.")
    if isinstance(exc, psycopg.OperationalError):
        return ApiError(503, "PGRST000", "Database connection error. Retrying the connection.")
    return ApiError(500, "XX000", "unexpected database client error")


def error_response(exc: ApiError) -> JSONResponse:
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = (
            f'Bearer error="invalid_token", error_description="{exc.message}"'
        )
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


# -- request details -----------------------------------------------------------------------------


def preferences(request: Request) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for header in request.headers.getlist("prefer"):
        for item in header.split(","):
            key, _, value = item.strip().partition("=")
            if key:
                prefs[key] = value
    return prefs


def check_profile(request: Request) -> None:
    for header in ("accept-profile", "content-profile"):
        profile = request.headers.get(header)
        if profile and profile != q.SCHEMA:
            raise ApiError(406, "PGRST106", f"The schema must be one of the following: {q.SCHEMA}")


def wants_single(request: Request) -> bool:
    return request.headers.get("accept", "").split(";")[0].strip() == SINGLE_OBJECT


async def json_body(request: Request) -> tuple[Any, str]:
    raw = (await request.body()).decode("utf-8", errors="replace")
    try:
        return parse_json(raw), raw
    except MalformedJson as exc:
        raise ApiError(400, "PGRST102", "Empty or invalid json", details=str(exc)) from exc


def apply_range_header(request: Request, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`Range: 0-9` (items) means offset 0, limit 10 when the query sets neither."""
    header = request.headers.get("range")
    keys = {k for k, _ in query}
    if not header or "limit" in keys or "offset" in keys:
        return query
    start, dash, end = header.removeprefix("items=").partition("-")
    if not dash or not q.is_count(start) or (end and not q.is_count(end)):
        return query
    extra = [("offset", start)]
    if end:
        if int(end) < int(start):
            raise ApiError(416, "PGRST103", "Requested range not satisfiable")
        extra.append(("limit", str(int(end) - int(start) + 1)))
    return query + extra


def content_range(offset: int, returned: int, total: int | None) -> str:
    total_text = "*" if total is None else str(total)
    if returned == 0:
        return f"*/{total_text}"
    return f"{offset}-{offset + returned - 1}/{total_text}"


def single_body(body: str, returned: int) -> str:
    if returned != 1:
        raise ApiError(
            406,
            "PGRST116",
            "Cannot coerce the result to a single JSON object",
            details=f"The result contains {returned} rows",
        )
    # json_agg of one row is "[<row>]": the row itself, without re-encoding its numbers.
    return body.strip()[1:-1]


# -- handlers ------------------------------------------------------------------------------------


async def handle(request: Request) -> Response:
    state: StackState = request.app.state.stack
    role = "anon"
    try:
        claims = authenticate(request, state)
        role = claims["role"]
        check_profile(request)
        path = request.path_params["path"].strip("/")
        if path.startswith("rpc/"):
            return await _rpc(request, state, claims, path.removeprefix("rpc/"))
        if not path or "/" in path:
            raise ApiError(404, "PGRST125", f"Invalid path specified in request URL: /{path}")
        table = await state.table(path)
        query = list(request.query_params.multi_items())
        method = request.method
        if method in ("GET", "HEAD"):
            return await _read(request, state, claims, table, query)
        if method == "POST":
            return await _insert(request, state, claims, table, query)
        if method == "PATCH":
            return await _update(request, state, claims, table, query)
        if method == "DELETE":
            return await _delete(request, state, claims, table, query)
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {method}")
    except ApiError as exc:
        return error_response(exc)
    except psycopg.Error as exc:
        return error_response(database_error(exc, role))


async def _fetch(
    state: StackState,
    claims: dict[str, Any],
    method: str,
    statement: sql.Composable,
    params: q.Params,
    *,
    single: bool = False,
) -> tuple[int | None, int, str]:
    """Run one statement in the caller's role; single() failures roll the transaction back."""
    async with as_role(state, claims, method) as conn:
        row = await (await conn.execute(statement, params.values)).fetchone()
        assert row is not None
        total, returned, body = row
        if single:
            body = single_body(body, returned)
    return total, returned, body


async def _read(
    request: Request,
    state: StackState,
    claims: dict[str, Any],
    table: q.Table,
    query: list[tuple[str, str]],
) -> Response:
    prefs = preferences(request)
    plan = q.plan_read(apply_range_header(request, query), table)
    exact = prefs.get("count") in ("exact", "planned", "estimated")
    single = wants_single(request)
    total, returned, body = await _fetch(
        state,
        claims,
        request.method,
        plan.statement(exact_count=exact),
        plan.params,
        single=single,
    )
    headers = {"Content-Range": content_range(plan.offset or 0, returned, total)}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type=JSON_TYPE)
    return Response(body, status_code=200, headers=headers, media_type=JSON_TYPE)


def _rows_and_columns(
    payload: Any, query: list[tuple[str, str]], table: q.Table
) -> tuple[list[dict[str, Any]], list[str]]:
    rows = [payload] if isinstance(payload, dict) else payload
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise ApiError(400, "PGRST102", "Body must be a JSON object or an array of objects")
    explicit = dict(query).get("columns")
    if explicit:
        names = [q.unquote(c.strip()) for c in q.split_top(explicit)]
    else:
        names = list(dict.fromkeys(key for row in rows for key in row))
    return rows, q.column_list(names, table)


async def _insert(
    request: Request,
    state: StackState,
    claims: dict[str, Any],
    table: q.Table,
    query: list[tuple[str, str]],
) -> Response:
    prefs = preferences(request)
    payload, raw = await json_body(request)
    rows, columns = _rows_and_columns(payload, query, table)
    returning = prefs.get("return") == "representation"
    resolution = prefs.get("resolution")
    if resolution not in (None, "merge-duplicates", "ignore-duplicates"):
        raise q.parse_error(f'unknown resolution "{resolution}"')
    single = wants_single(request)
    if not rows:
        _, returned, body = None, 0, "[]"
    elif not columns:
        _, returned, body = await _insert_defaults(
            state, claims, table, query, len(rows), returning=returning
        )
    else:
        rows_json = raw if isinstance(payload, list) else f"[{raw}]"
        statement, params = q.plan_insert(
            query, table, rows_json, columns, returning=returning, resolution=resolution
        )
        _, returned, body = await _mutate(
            state, claims, "POST", statement, params, returning, single
        )
    return _mutation_response(prefs, 201, returning, returned, body, single)


async def _insert_defaults(
    state: StackState,
    claims: dict[str, Any],
    table: q.Table,
    query: list[tuple[str, str]],
    count: int,
    *,
    returning: bool,
) -> tuple[int | None, int, str]:
    """Rows given as `{}`: every column takes its default (one statement per row)."""
    cols = q.select_list(dict(query).get("select"), table)
    statement = sql.SQL(
        "with pgrst_mutation as (insert into {} default values returning {}) "
        "select to_json(_t)::text from pgrst_mutation _t"
    ).format(table.ident, cols)
    bodies: list[str] = []
    async with as_role(state, claims, "POST") as conn:
        for _ in range(count):
            row = await (await conn.execute(statement)).fetchone()
            assert row is not None
            bodies.append(row[0])
    return None, count, "[" + ",".join(bodies) + "]" if returning else ""


async def _mutate(
    state: StackState,
    claims: dict[str, Any],
    method: str,
    statement: sql.Composable,
    params: q.Params,
    returning: bool,
    single: bool,
) -> tuple[int | None, int, str]:
    if returning:
        return await _fetch(state, claims, method, statement, params, single=single)
    async with as_role(state, claims, method) as conn:
        cursor = await conn.execute(statement, params.values)
        affected = max(cursor.rowcount, 0)
        if single and affected != 1:
            single_body("", affected)
    return None, affected, ""


def _mutation_response(
    prefs: dict[str, str],
    status: int,
    returning: bool,
    returned: int,
    body: str,
    single: bool,
) -> Response:
    headers = {}
    if prefs.get("count") in ("exact", "planned", "estimated"):
        headers["Content-Range"] = f"*/{returned}"
    if not returning:
        return Response(status_code=status if status == 201 else 204, headers=headers)
    # single() was already enforced inside the transaction (see _fetch), so a failure rolled back.
    del single
    return Response(body, status_code=status, headers=headers, media_type=JSON_TYPE)


async def _update(
    request: Request,
    state: StackState,
    claims: dict[str, Any],
    table: q.Table,
    query: list[tuple[str, str]],
) -> Response:
    prefs = preferences(request)
    payload, raw = await json_body(request)
    if not isinstance(payload, dict):
        raise ApiError(400, "PGRST102", "PATCH body must be one JSON object")
    columns = q.column_list(list(payload), table)
    returning = prefs.get("return") == "representation"
    single = wants_single(request)
    if not columns:
        return _mutation_response(prefs, 200, returning, 0, "[]", single)
    statement, params = q.plan_update(query, table, raw, columns, returning=returning)
    _, returned, body = await _mutate(state, claims, "PATCH", statement, params, returning, single)
    return _mutation_response(prefs, 200, returning, returned, body, single)


async def _delete(
    request: Request,
    state: StackState,
    claims: dict[str, Any],
    table: q.Table,
    query: list[tuple[str, str]],
) -> Response:
    prefs = preferences(request)
    returning = prefs.get("return") == "representation"
    single = wants_single(request)
    statement, params = q.plan_delete(query, table, returning=returning)
    _, returned, body = await _mutate(state, claims, "DELETE", statement, params, returning, single)
    return _mutation_response(prefs, 200, returning, returned, body, single)


async def _rpc(request: Request, state: StackState, claims: dict[str, Any], name: str) -> Response:
    if request.method in ("GET", "HEAD"):
        args: dict[str, Any] = {
            k: v for k, v in request.query_params.multi_items() if k not in q.RESERVED_KEYS
        }
        raw = json.dumps(args)
    elif request.method == "POST":
        body = await request.body()
        if body.strip():
            args, raw = await json_body(request)
        else:
            args, raw = {}, "{}"
        if not isinstance(args, dict):
            raise ApiError(400, "PGRST102", "RPC arguments must be one JSON object")
    else:
        raise ApiError(405, "PGRST117", f"Unsupported HTTP method: {request.method}")
    if "/" in name:
        raise ApiError(404, "PGRST125", f"Invalid path specified in request URL: /rpc/{name}")
    function = await state.function(name, set(args))
    statement, params = q.plan_rpc(function, args, raw)
    if function.returns_void:
        async with as_role(state, claims, request.method) as conn:
            await conn.execute(statement, params.values)
        return Response(status_code=204)
    single = wants_single(request) and function.returns_set
    _, _, body = await _fetch(state, claims, request.method, statement, params, single=single)
    if request.method == "HEAD":
        return Response(status_code=200, media_type=JSON_TYPE)
    return Response(body, status_code=200, media_type=JSON_TYPE)
