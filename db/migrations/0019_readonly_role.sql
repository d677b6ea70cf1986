-- A read-only role for looking at the data (pgAdmin's pre-registered server,
-- issue 15): ticktide_readonly may connect to this database and SELECT from every
-- table, view, materialized view (TimescaleDB's continuous aggregates too) and
-- sequence in schema public, now and created by later migrations; it may not
-- write, create or EXECUTE beyond what PUBLIC may. It logs in without a password
-- of its own: pg_hba.conf decides how (trust locally, or a password an operator
-- sets with ALTER ROLE).
--
-- Roles are cluster-wide, databases are not: several databases on one cluster
-- (every test run has its own) apply this file, at the same time too. A CREATE
-- ROLE racing another one that has not committed yet waits for it and then fails
-- with unique_violation (the index on pg_authid); one that checked just before
-- the other committed fails with duplicate_object. Either way the role exists.
-- The grants below are this database's own, so they never collide.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = 'ticktide_readonly') THEN
        BEGIN
            CREATE ROLE ticktide_readonly
                LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;
        END;
    END IF;
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO ticktide_readonly', current_database());
END
$$;

GRANT USAGE ON SCHEMA public TO ticktide_readonly;
-- ALL TABLES includes views and materialized views (a continuous aggregate is a
-- view here, read with its owner's rights); TimescaleDB passes a hypertable's
-- grant on to its chunks and its compressed hypertable, and new chunks copy it.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ticktide_readonly;
GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ticktide_readonly;

-- Objects that later migrations create (as the role that runs them, this one).
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ticktide_readonly;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO ticktide_readonly;
