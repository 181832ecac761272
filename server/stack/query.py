"""PostgREST query syntax → SQL, with every identifier checked against the catalog.

Nothing from a request ever reaches SQL text: table, column and function names are looked up in
the `public` schema's catalog and composed with `psycopg.sql.Identifier`; every value is a bound
parameter (named placeholders, so composition order never matters). Type names that appear in
SQL come from `format_type()` in the catalog, never from the request, except for the small
whitelist of casts in `select=col::type`.

Supported (see docs/local-stack.md): select lists with aliases, casts and JSON paths (`->`,
`->>`); filters eq, neq, gt, gte, lt, lte, like, ilike, like(any|all), ilike(any|all), match,
imatch, in, is, isdistinct, cs, cd, ov, fts/plfts/phfts/wfts, each negatable with `not.`;
`or=(...)`/`and=(...)` trees with nesting; order with nulls first/last; limit/offset.
Not supported: resource embedding (`select=*,other(*)`), aggregates, filters on RPC results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

SCHEMA = "public"
# Query-string keys that are not column filters.
RESERVED_KEYS = frozenset({"select", "order", "limit", "offset", "on_conflict", "columns"})
# Casts allowed in `select=col::type`; a cast names a type in SQL text, so it is a whitelist.
ALLOWED_CASTS = frozenset(
    {
        "text",
        "int",
        "integer",
        "bigint",
        "smallint",
        "numeric",
        "real",
        "float",
        "double precision",
        "boolean",
        "bool",
        "json",
        "jsonb",
        "uuid",
        "date",
        "timestamp",
        "timestamptz",
        "time",
    }
)
_COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_PATTERN_OPS = {"like": "like", "ilike": "ilike", "match": "~", "imatch": "~*"}
_CONTAINMENT = {"cs": "@>", "cd": "<@", "ov": "&&"}
_FTS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
_IS_VALUES = {"null": "null", "not_null": "not null", "true": "true", "false": "false"}
_IS_VALUES["unknown"] = "unknown"
_JSON_ARROW = re.compile(r"(->>|->)")
_OP = re.compile(r"^(?P<op>[a-z]+)(?:\((?P<mod>[^)]*)\))?$")
# `or=(and(or(...)))` nests at most this deep: far beyond any real filter, and it keeps the
# recursive parse (and the SQL it composes) small.
MAX_LOGIC_DEPTH = 16
# Counts in the URL (limit, offset, Range) are bigints: more digits is never a valid count.
MAX_COUNT_DIGITS = 18
# Aliases and JSON keys end up in SQL text (quoted), so they are restricted to plain names;
# in particular no "%", which the driver would read as a placeholder.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ $-]*$")


class ApiError(Exception):
    """An error answered in PostgREST's shape: {"code", "details", "hint", "message"}."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.hint = hint

    def body(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "details": self.details,
            "hint": self.hint,
            "message": self.message,
        }


def parse_error(message: str, details: str | None = None) -> ApiError:
    return ApiError(400, "PGRST100", message, details=details)


# -- catalog -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    generated: bool


@dataclass
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...]

    @property
    def ident(self) -> sql.Identifier:
        return sql.Identifier(SCHEMA, self.name)

    def column(self, name: str) -> Column:
        try:
            return self.columns[name]
        except KeyError:
            raise ApiError(400, "42703", f"column {self.name}.{name} does not exist") from None


@dataclass(frozen=True)
class Argument:
    name: str
    type: str
    has_default: bool


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple[Argument, ...]
    returns_set: bool
    returns_void: bool

    def accepts(self, names: set[str]) -> bool:
        known = {a.name for a in self.args}
        required = {a.name for a in self.args if not a.has_default}
        return names <= known and required <= names


_TABLES_SQL = """
select c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attgenerated <> ''
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
where n.nspname = %s and c.relkind in ('r', 'v', 'm', 'p', 'f')
order by c.relname, a.attnum
"""
_KEYS_SQL = """
select c.relname, array_agg(a.attname order by k.ord)
from pg_catalog.pg_constraint con
join pg_catalog.pg_class c on c.oid = con.conrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
cross join lateral unnest(con.conkey) with ordinality k(attnum, ord)
join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
where n.nspname = %s and con.contype = 'p'
group by c.relname
"""
_FUNCTIONS_SQL = """
select p.proname, p.proretset, p.prorettype = 'pg_catalog.void'::regtype, p.pronargdefaults,
       coalesce(p.proargnames, '{}'), coalesce(p.proargmodes::text[], '{}'),
       array(select format_type(t, null)
             from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[]))
                  with ordinality u(t, i) order by i)
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
where n.nspname = %s and p.prokind = 'f'
"""


@dataclass
class Catalog:
    """The exposed schema's tables, columns, primary keys and functions (PostgREST's cache)."""

    tables: dict[str, Table] = field(default_factory=dict)
    functions: dict[str, list[Function]] = field(default_factory=dict)

    @classmethod
    async def load(cls, conn: psycopg.AsyncConnection[Any]) -> Catalog:
        catalog = cls()
        for relname, attname, typ, generated in await (
            await conn.execute(_TABLES_SQL, (SCHEMA,))
        ).fetchall():
            table = catalog.tables.setdefault(relname, Table(relname, {}, ()))
            table.columns[attname] = Column(attname, typ, bool(generated))
        for relname, keys in await (await conn.execute(_KEYS_SQL, (SCHEMA,))).fetchall():
            if relname in catalog.tables:
                catalog.tables[relname].primary_key = tuple(keys)
        rows = await (await conn.execute(_FUNCTIONS_SQL, (SCHEMA,))).fetchall()
        for name, retset, void, ndefaults, argnames, argmodes, argtypes in rows:
            modes = list(argmodes) or ["i"] * len(argtypes)
            inputs = [
                (argnames[i] if i < len(argnames) else "", argtypes[i])
                for i in range(len(argtypes))
                if modes[i] in ("i", "b", "v")
            ]
            if any(not n for n, _ in inputs):
                continue  # unnamed arguments cannot be called with named JSON keys
            args = tuple(
                Argument(n, t, i >= len(inputs) - ndefaults) for i, (n, t) in enumerate(inputs)
            )
            catalog.functions.setdefault(name, []).append(Function(name, args, retset, void))
        return catalog

    def table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise ApiError(
                404,
                "PGRST205",
                f"Could not find the table '{SCHEMA}.{name}' in the schema cache",
            )
        return table

    def function(self, name: str, arg_names: set[str]) -> Function:
        for candidate in self.functions.get(name, []):
            if candidate.accepts(arg_names):
                return candidate
        listed = ", ".join(sorted(arg_names))
        raise ApiError(
            404,
            "PGRST202",
            f"Could not find the function {SCHEMA}.{name}({listed}) in the schema cache",
        )


# -- lexing helpers -----------------------------------------------------------------------------


def split_top(text: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside parentheses and double quotes (backslash escapes in quotes)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quoted = False
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth < 0:
                raise parse_error(f'unexpected ")" in "{text}"')
        elif not quoted and depth == 0 and char == sep:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    if quoted or depth:
        raise parse_error(f'unbalanced quotes or parentheses in "{text}"')
    parts.append("".join(current))
    return parts


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


class Params:
    """Named bind parameters; composition order of SQL pieces does not matter."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> sql.Placeholder:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return sql.Placeholder(name)


# -- fields --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldRef:
    """A column, optionally followed by a JSON path (`data->a->>b`)."""

    column: str
    path: tuple[tuple[str, str], ...] = ()

    def sql(self) -> sql.Composable:
        expr: sql.Composable = sql.Identifier(self.column)
        for arrow, key in self.path:
            index = key.removeprefix("-")
            is_index = is_count(index) and len(index) <= 9
            literal = sql.Literal(int(key)) if is_index else sql.Literal(key)
            expr = sql.SQL("{} {} {}").format(expr, sql.SQL(arrow), literal)
        return expr

    @property
    def output_name(self) -> str:
        return self.path[-1][1] if self.path else self.column


def parse_field(text: str, table: Table) -> FieldRef:
    pieces = _JSON_ARROW.split(unquote(text.strip()))
    column = unquote(pieces[0])
    table.column(column)
    path = []
    for i in range(1, len(pieces), 2):
        key = unquote(pieces[i + 1]) if i + 1 < len(pieces) else ""
        if not _NAME.match(key):
            raise parse_error(f'JSON path key "{key}" in "{text}" is not a plain name')
        path.append((pieces[i], key))
    return FieldRef(column, tuple(path))


def select_list(text: str | None, table: Table) -> sql.Composable:
    """`select=` → a SQL select list; `*` or absent means every column."""
    if text is None or text.strip() in ("", "*"):
        return sql.SQL("*")
    items: list[sql.Composable] = []
    for raw in split_top(text):
        item = raw.strip()
        if item == "*":
            items.append(sql.SQL("*"))
            continue
        if "(" in item:
            raise parse_error(
                f'"{item}": resource embedding is not supported by the local stack',
            )
        cast = None
        if "::" in item:
            item, cast = item.rsplit("::", 1)
            if cast.strip().lower() not in ALLOWED_CASTS:
                raise parse_error(f'cast to "{cast}" is not supported')
        alias = None
        head, sep, rest = item.partition(":")
        if sep and not rest.startswith(":"):
            alias, item = head.strip(), rest
            if not _NAME.match(alias):
                raise parse_error(f'alias "{alias}" is not a plain name')
        ref = parse_field(item, table)
        expr = ref.sql()
        if cast:
            expr = sql.SQL("({})::{}").format(expr, sql.SQL(cast.strip().lower()))
        name = alias or ref.output_name
        items.append(sql.SQL("{} as {}").format(expr, sql.Identifier(name)))
    return sql.SQL(", ").join(items)


# -- filters -------------------------------------------------------------------------------------


def _condition(ref: FieldRef, spec: str, params: Params) -> sql.Composable:
    """`[not.]op[(mod)].value` applied to one field."""
    negate = False
    if spec.startswith("not."):
        negate, spec = True, spec[4:]
    op_text, dot, value = spec.partition(".")
    match = _OP.match(op_text)
    if not dot or match is None:
        raise parse_error(f'"{spec}" is not an operator followed by a value', "e.g. eq.1")
    op, mod = match["op"], match["mod"]
    expr = ref.sql()
    if op in _COMPARISONS and mod is None:
        cond = sql.SQL("{} {} {}").format(expr, sql.SQL(_COMPARISONS[op]), params.add(value))
    elif op in ("like", "ilike") and mod in ("any", "all"):
        values = [unquote(v).replace("*", "%") for v in _braced_list(value)]
        cond = sql.SQL("{} {} {} ({}::text[])").format(
            expr, sql.SQL(_PATTERN_OPS[op]), sql.SQL(mod), params.add(values)
        )
    elif op in _PATTERN_OPS and mod is None:
        pattern = value.replace("*", "%") if op in ("like", "ilike") else value
        cond = sql.SQL("{} {} {}").format(expr, sql.SQL(_PATTERN_OPS[op]), params.add(pattern))
    elif op == "in" and mod is None:
        if not (value.startswith("(") and value.endswith(")")):
            raise parse_error(f'"in" needs a parenthesised list, got "{value}"')
        inner = value[1:-1]
        items = [unquote(v.strip()) for v in split_top(inner)] if inner.strip() else []
        if not items:
            cond = sql.SQL("false")
        else:
            placeholders = sql.SQL(", ").join(params.add(v) for v in items)
            cond = sql.SQL("{} in ({})").format(expr, placeholders)
    elif op == "is" and mod is None:
        keyword = _IS_VALUES.get(value.lower())
        if keyword is None:
            raise parse_error(f'"is" accepts null, not_null, true, false or unknown; got "{value}"')
        cond = sql.SQL("{} is {}").format(expr, sql.SQL(keyword))
    elif op == "isdistinct" and mod is None:
        cond = sql.SQL("{} is distinct from {}").format(expr, params.add(value))
    elif op in _CONTAINMENT and mod is None:
        cond = sql.SQL("{} {} {}").format(expr, sql.SQL(_CONTAINMENT[op]), params.add(value))
    elif op in _FTS:
        query_fn = sql.SQL(_FTS[op])
        if mod:
            cond = sql.SQL("{} @@ {}({}::regconfig, {})").format(
                expr, query_fn, params.add(mod), params.add(value)
            )
        else:
            cond = sql.SQL("{} @@ {}({})").format(expr, query_fn, params.add(value))
    else:
        raise parse_error(f'unknown or unsupported operator "{op_text}"')
    return sql.SQL("not ({})").format(cond) if negate else cond


def _braced_list(value: str) -> list[str]:
    if not (value.startswith("{") and value.endswith("}")):
        raise parse_error(f'expected a list in braces, got "{value}"')
    inner = value[1:-1]
    return [v.strip() for v in split_top(inner)] if inner else []


def _logic_tree(kind: str, body: str, table: Table, params: Params) -> sql.Composable:
    """`or`/`and` with a parenthesised, comma-separated list of conditions or subtrees."""
    if not (body.startswith("(") and body.endswith(")")):
        raise parse_error(f'"{kind}" needs a parenthesised list of conditions, got "{body}"')
    parts: list[sql.Composable] = []
    for raw in split_top(body[1:-1]):
        item = raw.strip()
        if not item:
            raise parse_error(f'empty condition in "{kind}={body}"')
        negate = item.startswith("not.")
        inner = item[4:] if negate else item
        nested = re.match(r"^(and|or)(\(.*\))$", inner, re.S)
        if nested:
            sub = _logic_tree(nested[1], nested[2], table, params)
            parts.append(sql.SQL("not ({})").format(sub) if negate else sub)
            continue
        field_text, dot, spec = _split_field(item)
        if not dot:
            raise parse_error(f'"{item}" is not column.operator.value')
        spec = _unquote_value(spec)
        parts.append(_condition(parse_field(field_text, table), spec, params))
    joiner = sql.SQL(" or ") if kind == "or" else sql.SQL(" and ")
    return sql.SQL("({})").format(joiner.join(parts))


def _check_logic_depth(key: str, value: str) -> None:
    depth = deepest = 0
    for char in value:
        depth += (char == "(") - (char == ")")
        deepest = max(deepest, depth)
    if deepest > MAX_LOGIC_DEPTH:
        raise parse_error(
            f'"{key}" nests conditions {deepest} levels deep',
            f"at most {MAX_LOGIC_DEPTH} levels of and/or are accepted",
        )


def _split_field(item: str) -> tuple[str, str, str]:
    """`col.op.value` → (col, '.', 'op.value'); a quoted column may contain dots."""
    if item.startswith('"'):
        end = item.find('"', 1)
        if end > 0:
            rest = item[end + 1 :]
            return item[: end + 1] + rest.partition(".")[0], ".", rest.partition(".")[2]
    return item.partition(".")


def _unquote_value(spec: str) -> str:
    """Inside logic trees a value with reserved characters arrives double-quoted."""
    negate = spec.startswith("not.")
    body = spec[4:] if negate else spec
    op, dot, value = body.partition(".")
    if dot and op != "in":
        body = f"{op}.{unquote(value)}"
    return ("not." if negate else "") + body


def where_clause(
    query: list[tuple[str, str]], table: Table, params: Params
) -> sql.Composable | None:
    conditions: list[sql.Composable] = []
    for key, value in query:
        if key in RESERVED_KEYS:
            continue
        if key in ("or", "and", "not.or", "not.and"):
            _check_logic_depth(key, value)
            negate = key.startswith("not.")
            tree = _logic_tree(key.removeprefix("not."), value, table, params)
            conditions.append(sql.SQL("not {}").format(tree) if negate else tree)
        else:
            conditions.append(_condition(parse_field(key, table), value, params))
    if not conditions:
        return None
    return sql.SQL(" and ").join(conditions)


def order_clause(text: str | None, table: Table) -> sql.Composable | None:
    if not text:
        return None
    items: list[sql.Composable] = []
    for raw in split_top(text):
        parts = raw.strip().split(".")
        # A JSON path may not contain dots, so the modifiers are the trailing known words.
        modifiers: list[str] = []
        while len(parts) > 1 and parts[-1] in ("asc", "desc", "nullsfirst", "nullslast"):
            modifiers.insert(0, parts.pop())
        ref = parse_field(".".join(parts), table)
        pieces: list[sql.Composable] = [ref.sql()]
        for modifier in modifiers:
            pieces.append(
                sql.SQL(
                    {
                        "asc": "asc",
                        "desc": "desc",
                        "nullsfirst": "nulls first",
                        "nullslast": "nulls last",
                    }[modifier]
                )
            )
        items.append(sql.SQL(" ").join(pieces))
    return sql.SQL(", ").join(items)


def is_count(text: str) -> bool:
    """ASCII digits only (`str.isdigit` also takes "²", which `int` refuses), bigint-sized."""
    return text.isascii() and text.isdigit() and len(text) <= MAX_COUNT_DIGITS


def non_negative_int(name: str, value: str | None) -> int | None:
    if value is None or value == "":
        return None
    if not is_count(value):
        raise parse_error(f'"{name}" must be a non-negative integer, got "{value}"')
    return int(value)


def column_list(names: list[str], table: Table) -> list[str]:
    """Payload or `columns=` names; an unknown one is PGRST204 like PostgREST's."""
    checked = []
    for name in names:
        if name not in table.columns:
            raise ApiError(
                400,
                "PGRST204",
                f"Could not find the '{name}' column of '{table.name}' in the schema cache",
            )
        checked.append(name)
    return checked


# -- statements ----------------------------------------------------------------------------------


@dataclass
class Read:
    table: Table
    columns: sql.Composable
    where: sql.Composable | None
    order: sql.Composable | None
    limit: int | None
    offset: int | None
    params: Params

    def statement(self, *, exact_count: bool) -> sql.Composable:
        tail: list[sql.Composable] = []
        if self.order is not None:
            tail.append(sql.SQL("order by {}").format(self.order))
        if self.limit is not None:
            tail.append(sql.SQL("limit {}").format(self.params.add(self.limit)))
        if self.offset:
            tail.append(sql.SQL("offset {}").format(self.params.add(self.offset)))
        where = sql.SQL("where {}").format(self.where) if self.where is not None else sql.SQL("")
        total = (
            sql.SQL("(select count(*) from {} {})").format(self.table.ident, where)
            if exact_count
            else sql.SQL("null::bigint")
        )
        return sql.SQL(
            "with pgrst_source as (select {cols} from {table} {where} {tail}) "
            "select {total}, count(*), coalesce(json_agg(_t), '[]')::text from pgrst_source _t"
        ).format(
            cols=self.columns,
            table=self.table.ident,
            where=where,
            tail=sql.SQL(" ").join(tail),
            total=total,
        )


def plan_read(query: list[tuple[str, str]], table: Table) -> Read:
    params = Params()
    single = dict(query)
    return Read(
        table=table,
        columns=select_list(single.get("select"), table),
        where=where_clause(query, table, params),
        order=order_clause(single.get("order"), table),
        limit=non_negative_int("limit", single.get("limit")),
        offset=non_negative_int("offset", single.get("offset")),
        params=params,
    )


def _wrap_returning(mutation: sql.Composable, returning: bool) -> sql.Composable:
    if not returning:
        return mutation
    return sql.SQL(
        "with pgrst_mutation as ({}) "
        "select null::bigint, count(*), coalesce(json_agg(_t), '[]')::text from pgrst_mutation _t"
    ).format(mutation)


def plan_insert(
    query: list[tuple[str, str]],
    table: Table,
    rows_json: str,
    columns: list[str],
    *,
    returning: bool,
    resolution: str | None,
) -> tuple[sql.Composable, Params]:
    params = Params()
    single = dict(query)
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    statement = sql.SQL(
        "insert into {table} ({cols})"
        " select {cols} from json_populate_recordset(null::{table}, {rows}::json)"
    ).format(table=table.ident, cols=cols, rows=params.add(rows_json))
    if resolution is not None:
        target_names = (
            [c.strip() for c in single["on_conflict"].split(",")]
            if single.get("on_conflict")
            else list(table.primary_key)
        )
        if not target_names:
            raise ApiError(
                400, "PGRST100", f"table '{table.name}' has no primary key; pass on_conflict"
            )
        target = sql.SQL(", ").join(sql.Identifier(c) for c in column_list(target_names, table))
        if resolution == "ignore-duplicates":
            statement = sql.SQL("{} on conflict ({}) do nothing").format(statement, target)
        else:
            updates = [c for c in columns if c not in target_names] or columns
            assignments = sql.SQL(", ").join(
                sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in updates
            )
            statement = sql.SQL("{} on conflict ({}) do update set {}").format(
                statement, target, assignments
            )
    if returning:
        statement = sql.SQL("{} returning {}").format(
            statement, select_list(single.get("select"), table)
        )
    return _wrap_returning(statement, returning), params


def plan_update(
    query: list[tuple[str, str]],
    table: Table,
    row_json: str,
    columns: list[str],
    *,
    returning: bool,
) -> tuple[sql.Composable, Params]:
    params = Params()
    single = dict(query)
    where = where_clause(query, table, params)
    if where is None:
        # Hosted Supabase loads pg-safeupdate for the API: an unfiltered write is refused.
        raise ApiError(400, "21000", "UPDATE requires a WHERE clause")
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    statement = sql.SQL(
        "update {table} set ({cols}) ="
        " (select {cols} from json_populate_record(null::{table}, {row}::json)) where {where}"
    ).format(table=table.ident, cols=cols, row=params.add(row_json), where=where)
    if returning:
        statement = sql.SQL("{} returning {}").format(
            statement, select_list(single.get("select"), table)
        )
    return _wrap_returning(statement, returning), params


def plan_delete(
    query: list[tuple[str, str]], table: Table, *, returning: bool
) -> tuple[sql.Composable, Params]:
    params = Params()
    single = dict(query)
    where = where_clause(query, table, params)
    if where is None:
        raise ApiError(400, "21000", "DELETE requires a WHERE clause")
    statement = sql.SQL("delete from {} where {}").format(table.ident, where)
    if returning:
        statement = sql.SQL("{} returning {}").format(
            statement, select_list(single.get("select"), table)
        )
    return _wrap_returning(statement, returning), params


def plan_rpc(
    function: Function, args: Mapping[str, Any], args_json: str
) -> tuple[sql.Composable, Params]:
    """Call with named arguments decoded by json_to_record, so Postgres converts every type."""
    params = Params()
    used = [a for a in function.args if a.name in args]
    call_args = sql.SQL(", ").join(
        sql.SQL("{} => _a.{}").format(sql.Identifier(a.name), sql.Identifier(a.name)) for a in used
    )
    call = sql.SQL("{}({})").format(sql.Identifier(SCHEMA, function.name), call_args)
    if used:
        definition = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(a.name), sql.SQL(a.type)) for a in used
        )
        source = sql.SQL("json_to_record({}::json) as _a({})").format(
            params.add(args_json), definition
        )
    else:
        source = sql.SQL("(select) as _a")
    if function.returns_void:
        statement = sql.SQL("select {} from {}").format(call, source)
    elif function.returns_set:
        statement = sql.SQL(
            "select null::bigint, count(*), coalesce(json_agg(_t), '[]')::text "
            "from {}, lateral {} _t"
        ).format(source, call)
    else:
        statement = sql.SQL("select null::bigint, 1, to_json({})::text from {}").format(
            call, source
        )
    return statement, params
