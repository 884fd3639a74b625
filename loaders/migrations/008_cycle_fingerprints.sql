-- What the last successful `leadlink run` cycle built and published from, so that a cycle with
-- nothing new skips dbt build and publish (leadlink.pipeline.nothing_new). One row per stage:
-- `built` after a dbt build that passed, `published` after a publish that also succeeded. A
-- failed build or publish deletes the rows it no longer vouches for.

create table {raw_schema}.cycle_fingerprints (
    stage text primary key check (stage in ('built', 'published')),
    project_digest text not null,
    inputs_digest text not null,
    outputs_digest text not null,
    recorded_at timestamptz not null default clock_timestamp()
);
comment on table {raw_schema}.cycle_fingerprints is
    'Fingerprints of the dbt project, of the tables dbt reads and of the relations it built, as '
    'of the last successful build (stage built) and publish (stage published) of leadlink run.';
