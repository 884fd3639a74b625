{#- The landed_at from which an incremental staging run re-reads records: the newest landing it
    has seen less the look-back var `incremental_lookback_minutes`, because a loader's
    transaction can commit after a later one was already read (landed_at is the insert time). -#}
{% macro incremental_landed_since(landed_at_column) %}
    {{ return(adapter.dispatch('incremental_landed_since', 'leadlink')(landed_at_column)) }}
{% endmacro %}

{% macro default__incremental_landed_since(landed_at_column) %}
    (
        select
            coalesce(max(previous_run.{{ landed_at_column }}), cast('-infinity' as timestamptz))
            - interval '{{ var("incremental_lookback_minutes") | int }} minutes'
        from {{ this }} as previous_run
    )
{% endmacro %}
