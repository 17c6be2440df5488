"""Statements prepared once a database connection, on PostgreSQL: for the few queries asked on every request
whose planning costs as much of the server's time as running them (the availability answer's busy rows:
0.9 -> 0.55 ms of PostgreSQL CPU on the bench clinic, docs/benchmarks.md, issue #16's fifth pass).

A statement is prepared in the same round trip as its first execution on a connection (`PREPARE name AS
...; EXECUTE name(...)`), then only executed. PostgreSQL keeps a prepared statement for the session whatever
becomes of the transaction it was made in (a rolled-back one too), and plans it with the values given for
its first five executions, then, if it is no dearer, once for all. The connection's wrapper (one a thread)
remembers which database connection its statements were prepared on: a new connection (after
`CONN_MAX_AGE`, a lost one) prepares them again. A failure between preparing and executing (in the same
round trip) leaves the next attempt a new name, so no name is prepared twice on one connection.

Not for a pooler that hands one client's statements to another session (PgBouncer in transaction mode):
the clinic connects straight to PostgreSQL (docs/settings.md, `CONN_MAX_AGE`)."""


def execute_prepared(
    cursor, name: str, sql: str, types: tuple[str, ...], params: list | None = None, *, arguments: str | None = None
) -> None:
    """Execute `sql` (written with $1, $2, ... for its parameters, of these PostgreSQL `types`) as the
    statement `name` prepared on this cursor's connection, preparing it first if this connection has not.
    The parameters are `params`, or `arguments`: their SQL text, rendered once by `arguments_sql` for a caller
    that asks with the same parameters again and again (adapting them is then not paid every time)."""
    wrapper = cursor.db  # this thread's connection wrapper
    raw = wrapper.connection
    known = wrapper.__dict__.get("prepared_statements")
    if known is None or known[0] is not raw:
        known = wrapper.prepared_statements = (raw, {})
    marks = ", ".join(["%s"] * len(types)) if arguments is None else arguments  # with no params: sent as is
    execute = known[1].get(name)
    if execute is not None:
        cursor.execute(f"{execute}({marks})", params)
        return
    attempt = wrapper.__dict__.get("prepared_attempts", 0) + 1
    wrapper.prepared_attempts = attempt
    execute = f"EXECUTE {name}_{attempt}"
    cursor.execute(f"PREPARE {name}_{attempt}({', '.join(types)}) AS {sql}; {execute}({marks})", params)
    known[1][name] = execute


def arguments_sql(cursor, params: list) -> str:
    """The SQL text of these parameters, separated by commas, as the driver renders them on this connection
    (`execute_prepared(..., arguments=...)`)."""
    text = cursor.mogrify(", ".join(["%s"] * len(params)), params)
    return text.decode() if isinstance(text, bytes) else text
