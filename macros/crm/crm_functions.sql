{#- The CRM application's side of leadlink: the one normaliser and the identity rules as functions
    inside the CRM's own database (schema `leadlink`), rendered from the same phone macros as the
    models. `leadlink crm install` runs

        dbt --quiet run-operation crm_install_plan --args '{crm_schema: ..., function_schema: ...}'

    and executes the plan it prints (one JSON line) against the CRM database, which may be another
    database than leadlink's own: nothing here runs a query. The plan holds

      tables     the phone metadata the normaliser reads (copies of the seeds, loaded from the seed
                 files by the installer), with the indexes the seeds get in leadlink's database;
      functions  create-or-replace statements, all `security definer` with a fixed search_path
                 and fully qualified names;
      indexes    expression indexes on the CRM's tables, built CONCURRENTLY by the installer.

    The index key is crm_phone_e164(stored phone): the full normaliser, declared immutable although
    it reads the metadata tables. That is true between installs (the metadata only changes when
    the installer replaces it), and the installer rebuilds these indexes whenever the key function
    or its metadata changed (see docs/crm-functions.md). It keeps EXECUTE for PUBLIC: every role
    that inserts into customers or leads_master evaluates it through the index.
-#}

{% macro crm_install_plan(crm_schema='public', function_schema='leadlink') %}
    {%- set seed_names = ['phone_regions', 'phone_valid_patterns', 'phone_test_numbers'] -%}
    {#- refs first: dbt records a macro's dependencies while parsing, when execute is false -#}
    {%- set seed_relations = {} -%}
    {%- for name in seed_names -%}
        {%- do seed_relations.update({name: ref(name)}) -%}
    {%- endfor -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set replacements = [] -%}
    {%- set tables = [] -%}
    {%- for name in seed_names -%}
        {#- the phone macros name the seeds' relations in leadlink's database: point them at the copies -#}
        {%- do replacements.append([
            seed_relations[name].include(database=false) | string, function_schema ~ '.' ~ name
        ]) -%}
        {%- do tables.append(leadlink.crm_seed_table(name, function_schema)) -%}
    {%- endfor -%}
    {%- set functions = [] -%}
    {%- for statement in leadlink.crm_functions_sql(crm_schema, function_schema) -%}
        {%- do functions.append(leadlink.crm_replace_all(statement, replacements)) -%}
    {%- endfor -%}
    {%- set index_key = leadlink.crm_replace_all(
        leadlink.crm_phone_key_function_sql(function_schema), replacements
    ) -%}
    {%- set plan = {
        'phonenumbers_version': leadlink.phone_parsing_data().phonenumbers_version,
        'default_phone_region': var('default_phone_region', 'IN'),
        'crm_schema': crm_schema,
        'function_schema': function_schema,
        'tables': tables,
        'index_key_function': index_key,
        'functions': functions,
        'public_functions': [function_schema ~ '.crm_phone_e164(text)'],
        'app_functions': [
            function_schema ~ '.normalize_phone(text, text)',
            function_schema ~ '.find_or_create_customer_by_phone(text, text, text, text)',
            function_schema ~ '.find_customer_with_leads_by_phone(text, text)',
        ],
        'private_functions': [function_schema ~ '.crm_parse_phone(text, text)'],
        'indexes': leadlink.crm_indexes(crm_schema, function_schema),
    } -%}
    {{ print('LEADLINK_CRM_INSTALL_PLAN ' ~ tojson(plan)) }}
{% endmacro %}


{% macro crm_replace_all(text, replacements) %}
    {%- set state = namespace(text=text) -%}
    {%- for pair in replacements -%}
        {%- set state.text = state.text | replace(pair[0], pair[1]) -%}
    {%- endfor -%}
    {{ return(state.text) }}
{% endmacro %}


{#- A seed's copy in the CRM: its columns and types as the seed's yml declares them. -#}
{% macro crm_seed_table(name, function_schema) %}
    {%- set node = graph.nodes['seed.leadlink.' ~ name] -%}
    {%- set types = node.config.column_types -%}
    {%- set columns = [] -%}
    {%- for column in node.columns -%}
        {%- do columns.append(column ~ ' ' ~ types.get(column, 'text')) -%}
    {%- endfor -%}
    {%- set table = function_schema ~ '.' ~ name -%}
    {%- set indexes = {
        'phone_regions': [
            'create index phone_regions_code on ' ~ table ~ ' (country_code, region_rank)',
            'create unique index phone_regions_region on ' ~ table ~ ' (region_code)',
        ],
        'phone_valid_patterns': [
            'create unique index phone_valid_patterns_key on ' ~ table ~ ' (region_code, nsn_length)',
        ],
        'phone_test_numbers': [],
    } -%}
    {{ return({
        'name': name,
        'relation': table,
        'seed_path': node.original_file_path,
        'columns': node.columns | list,
        'ddl': 'create table ' ~ table ~ ' (' ~ columns | join(', ') ~ ')',
        'index_ddl': indexes[name],
    }) }}
{% endmacro %}


{#- The expression indexes the functions look people up by, on the CRM's own tables. -#}
{% macro crm_indexes(crm_schema, function_schema) %}
    {%- set key = function_schema ~ '.crm_phone_e164' -%}
    {{ return([
        {'name': 'leadlink_customers_phone_e164', 'table': 'customers',
         'definition': '(' ~ key ~ '(phone_number_normalized))', 'key_column': none},
        {'name': 'leadlink_leads_master_phone_e164', 'table': 'leads_master',
         'definition': '(' ~ key ~ '(phone_number_normalized))', 'key_column': none},
        {'name': 'leadlink_leads_master_alternate_phone_e164', 'table': 'leads_master',
         'definition': '(' ~ key ~ '(alternate_phone_number)) where alternate_phone_number is not null',
         'key_column': none},
        {'name': 'leadlink_leads_master_customer_id', 'table': 'leads_master',
         'definition': '(customer_id)', 'key_column': 'customer_id'},
    ]) }}
{% endmacro %}


{#- The index key: the E.164 of a stored phone read in the default region (what the models make
    of it), or null. STRICT, so a null phone costs an insert nothing. -#}
{% macro crm_phone_key_function_sql(function_schema) %}
    {%- set region = var('default_phone_region', 'IN') -%}
    {%- set body -%}
create or replace function {{ function_schema }}.crm_phone_e164(raw text) returns text
language plpgsql immutable strict parallel safe security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $crm_phone_e164$
#variable_conflict use_column
{{ leadlink.crm_normalize_block(region) }}
$crm_phone_e164$
    {%- endset -%}
    {{ return(body) }}
{% endmacro %}


{#- normalize_phone as PL/pgSQL statements: the same fast path and full parse macros as
    default__normalize_phone, with the fast path as plain expressions (PL/pgSQL evaluates those
    without starting the executor) and the full parse's large plan started only for the values
    that need it. -#}
{% macro crm_normalize_block(region) %}
    {%- set data = leadlink.phone_parsing_data() -%}
declare
    fast_national text;
begin
    if {{ leadlink.phone_fast_path_applies('raw', region) }} then
        fast_national := {{ leadlink.phone_fast_national('raw') }};
        if {{ leadlink.phone_fast_is_valid('fast_national') }} then
            return '+{{ data.fast_path_country_code }}' || fast_national;
        end if;
        return null;
    end if;
    return (
        select parsed_phone.phone_e164
        from ({{ leadlink.phone_full_parse_query('raw', region) }}) as parsed_phone
    );
end
{%- endmacro %}


{#- phone_parse_query (E.164 and reason) the same way. -#}
{% macro crm_parse_block(region) %}
    {%- set data = leadlink.phone_parsing_data() -%}
declare
    fast_national text;
begin
    if {{ leadlink.phone_fast_path_applies('raw', region) }} then
        fast_national := {{ leadlink.phone_fast_national('raw') }};
        return query select
            case when {{ leadlink.phone_fast_is_valid('fast_national') }}
                then '+{{ data.fast_path_country_code }}' || fast_national
            end,
            {{ leadlink.phone_fast_reason('fast_national') }};
        return;
    end if;
    return query {{ leadlink.phone_full_parse_query('raw', region) }};
end
{%- endmacro %}


{% macro crm_functions_sql(crm_schema, function_schema) %}
    {%- set fs = function_schema -%}
    {%- set customers = adapter.quote(crm_schema) ~ '.customers' -%}
    {%- set leads_master = adapter.quote(crm_schema) ~ '.leads_master' -%}
    {%- set definer -%}
security definer
set search_path = pg_catalog, pg_temp
    {%- endset -%}
    {%- set statements = [] -%}

    {%- set normalize -%}
create or replace function {{ fs }}.normalize_phone(
    raw text, default_region text default 'IN'
) returns text
language plpgsql stable parallel safe {{ definer }}
-- one generic plan for every call: planning this query costs milliseconds
set plan_cache_mode = force_generic_plan
as $normalize_phone$
#variable_conflict use_column
{{ leadlink.crm_normalize_block('default_region') }}
$normalize_phone$
    {%- endset -%}
    {%- do statements.append(normalize) -%}

    {%- set parse -%}
create or replace function {{ fs }}.crm_parse_phone(
    raw text, default_region text default 'IN'
) returns table (phone_e164 text, unusable_reason text)
language plpgsql stable parallel safe {{ definer }}
set plan_cache_mode = force_generic_plan
as $crm_parse_phone$
#variable_conflict use_column
{{ leadlink.crm_parse_block('default_region') }}
$crm_parse_phone$
    {%- endset -%}
    {%- do statements.append(parse) -%}

    {%- set find_or_create -%}
create or replace function {{ fs }}.find_or_create_customer_by_phone(
    phone text, full_name text default null, email text default null, city text default null
) returns bigint
language plpgsql volatile {{ definer }}
as $find_or_create$
declare
    given_name constant text := nullif(btrim(find_or_create_customer_by_phone.full_name), '');
    given_email constant text := nullif(btrim(find_or_create_customer_by_phone.email), '');
    given_city constant text := nullif(btrim(find_or_create_customer_by_phone.city), '');
    person_e164 text;
    reason text;
    found_id bigint;
begin
    select parsed.phone_e164, parsed.unusable_reason into person_e164, reason
    from {{ fs }}.crm_parse_phone(find_or_create_customer_by_phone.phone) as parsed;
    if person_e164 is null or reason is not null then
        return null;  -- empty, invalid or a test number: nobody's customer
    end if;
    -- one caller per person at a time, until the caller's transaction ends (transaction-scoped:
    -- nothing survives on a pooled backend)
    perform pg_advisory_xact_lock(7310013, hashtext(person_e164));
    for attempt in 1..3 loop
        -- every writing of the number: the lowest id is the one publish keeps
        select min(existing.id) into found_id
        from {{ customers }} as existing
        where {{ fs }}.crm_phone_e164(existing.phone_number_normalized) = person_e164;
        if found_id is not null then
            update {{ customers }} as existing
            set full_name = coalesce(nullif(btrim(existing.full_name), ''), given_name),
                email = coalesce(nullif(btrim(existing.email), ''), given_email),
                city = coalesce(nullif(btrim(existing.city), ''), given_city),
                updated_at = now()
            where existing.id = found_id
                and (
                    (nullif(btrim(existing.full_name), '') is null and given_name is not null)
                    or (nullif(btrim(existing.email), '') is null and given_email is not null)
                    or (nullif(btrim(existing.city), '') is null and given_city is not null)
                );
            return found_id;
        end if;
        -- a writer that does not take the lock (the app's own insert, publish) may hold the
        -- E.164 already: skip, then read its row on the next round
        insert into {{ customers }} as created (phone_number_normalized, full_name, email, city)
        values (person_e164, given_name, given_email, given_city)
        on conflict do nothing
        returning created.id into found_id;
        if found_id is not null then
            return found_id;
        end if;
    end loop;
    raise exception 'leadlink.find_or_create_customer_by_phone: could not insert a customer for %',
        left(person_e164, 6) || '****'
        using hint = 'an insert into {{ customers }} conflicted with a row of another phone;'
            ' is the id sequence behind the ids already in the table?';
end
$find_or_create$
    {%- endset -%}
    {%- do statements.append(find_or_create) -%}

    {%- set lookup -%}
create or replace function {{ fs }}.find_customer_with_leads_by_phone(
    phone text, default_region text default 'IN'
) returns jsonb
language plpgsql stable {{ definer }}
set plan_cache_mode = force_generic_plan
as $find_customer_with_leads$
declare
    person_e164 text;
    reason text;
    customer_ids bigint[];
    customer jsonb;
    leads jsonb;
begin
    select parsed.phone_e164, parsed.unusable_reason into person_e164, reason
    from {{ fs }}.crm_parse_phone(
        find_customer_with_leads_by_phone.phone,
        coalesce(find_customer_with_leads_by_phone.default_region, 'IN')
    ) as parsed;
    if person_e164 is null or reason is not null then
        return jsonb_build_object(
            'phone_e164', person_e164, 'unusable_reason', reason,
            'customer', null, 'leads', '[]'::jsonb
        );
    end if;
    select coalesce(array_agg(existing.id order by existing.id), '{}') into customer_ids
    from {{ customers }} as existing
    where {{ fs }}.crm_phone_e164(existing.phone_number_normalized) = person_e164;
    select jsonb_build_object(
        'id', survivor.id,
        'phone_number_normalized', survivor.phone_number_normalized,
        'full_name', survivor.full_name,
        'email', survivor.email,
        'city', survivor.city,
        'created_at', survivor.created_at,
        'updated_at', survivor.updated_at,
        'duplicate_customer_ids', to_jsonb(customer_ids[2:])
    ) into customer
    from {{ customers }} as survivor
    where survivor.id = customer_ids[1];
    with by_phone as (
        select crm_lead.id, 1 as match_rank
        from {{ leads_master }} as crm_lead
        where {{ fs }}.crm_phone_e164(crm_lead.phone_number_normalized) = person_e164
    ),

    by_customer as (
        select crm_lead.id, 2 as match_rank
        from {{ leads_master }} as crm_lead
        where crm_lead.customer_id = any(customer_ids)
    ),

    by_alternate_phone as (
        -- the alternate phone counts only when the stored phone names nobody (as in the models)
        select crm_lead.id, 3 as match_rank
        from {{ leads_master }} as crm_lead
        where crm_lead.alternate_phone_number is not null
            and {{ fs }}.crm_phone_e164(crm_lead.alternate_phone_number) = person_e164
            and (
                select stored.unusable_reason
                from {{ fs }}.crm_parse_phone(crm_lead.phone_number_normalized) as stored
            ) is not null
    ),

    matched as (
        select candidates.id, min(candidates.match_rank) as match_rank
        from (
            select by_phone.id, by_phone.match_rank from by_phone
            union all
            select by_customer.id, by_customer.match_rank from by_customer
            union all
            select by_alternate_phone.id, by_alternate_phone.match_rank from by_alternate_phone
        ) as candidates
        group by candidates.id
    )

    select coalesce(jsonb_agg(jsonb_build_object(
        'id', crm_lead.id,
        'source_id', crm_lead.source_id,
        'status', crm_lead.status,
        'branch_id', crm_lead.branch_id,
        'customer_id', crm_lead.customer_id,
        'created_at', crm_lead.created_at,
        'updated_at', crm_lead.updated_at,
        'full_name', crm_lead.full_name,
        'external_lead_id', crm_lead.external_lead_id,
        'assigned_to', crm_lead.assigned_to,
        'phone_number_normalized', crm_lead.phone_number_normalized,
        'alternate_phone_number', crm_lead.alternate_phone_number,
        'matched_by', (array['phone', 'customer_id', 'alternate_phone'])[matched.match_rank],
        'linked', crm_lead.customer_id is not null and crm_lead.customer_id = customer_ids[1]
    ) order by crm_lead.created_at desc nulls last, crm_lead.id desc), '[]'::jsonb) into leads
    from matched
    inner join {{ leads_master }} as crm_lead on matched.id = crm_lead.id;
    return jsonb_build_object(
        'phone_e164', person_e164, 'unusable_reason', null,
        'customer', customer, 'leads', leads
    );
end
$find_customer_with_leads$
    {%- endset -%}
    {%- do statements.append(lookup) -%}
    {{ return(statements) }}
{% endmacro %}
