{#- PostgreSQL's write horizon (macros/crm_writes.sql), defined once: the dispatched postgres__
    macros and int_identity_batch call these, and publish renders this file with jinja2 (no dbt
    context: plain Jinja only) to look for the customers the app created since the build. -#}

{#- The 64-bit transaction id (xid8) of the oldest transaction running now: never wraps. -#}
{% macro postgres_write_horizon() -%}
cast(cast(pg_snapshot_xmin(pg_current_snapshot()) as text) as bigint)
{%- endmacro %}


{#- Can rows' 32-bit xmin be compared with `horizon`, the server being at `server_horizon`? Only
    with a horizon this server has reached (a database restored from a dump into another cluster
    keeps an earlier cluster's, ahead of the new ids: every row would look older than it), and
    within a quarter of the 32-bit range (PostgreSQL compares xids modulo 2^32, safely within
    2^31 of now): a billion transactions between two runs. Null when either is null. -#}
{% macro write_horizon_comparable(horizon, server_horizon) -%}
({{ server_horizon }} - {{ horizon }} between 0 and 1073741823)
{%- endmacro %}


{#- Was the row whose age(xmin) is `age_expression` written at or after `horizon` (a horizon
    write_horizon_comparable accepts)? Both ages are measured from the same now. -#}
{% macro postgres_row_written_since(age_expression, horizon) -%}
{{ age_expression }} <= age(cast(cast(mod({{ horizon }}, 4294967296) as text) as xid))
{%- endmacro %}
