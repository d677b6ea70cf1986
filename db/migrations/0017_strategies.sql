-- Saved strategies in the rule language (issue 14): a strategy is a name owned by
-- a user (or by nobody: a read-only system strategy), and each save of it is a new,
-- immutable version holding the document as sent, its canonical form, its shape
-- hash and the language it was checked as. A backtest names a version, so its
-- result can be reproduced from exactly the rules it ran.
--
-- The seven system strategies are not seeded here: the gateway writes them at
-- start from ticktide_common.rules.system.SYSTEM_STRATEGIES (idempotent; a
-- document changed in code becomes the next version), so that the SQL and the
-- Python documents cannot diverge.

CREATE TABLE strategies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id    bigint REFERENCES users (id) ON DELETE CASCADE,   -- NULL: a system strategy
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 80),
    visibility  text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'system')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((owner_id IS NULL) = (visibility = 'system')),
    UNIQUE (owner_id, name)
);
-- NULL owners are distinct to UNIQUE: the system strategies' names are unique here.
CREATE UNIQUE INDEX strategies_system_name ON strategies (name) WHERE owner_id IS NULL;

CREATE TABLE strategy_versions (
    strategy_id  bigint NOT NULL REFERENCES strategies (id) ON DELETE CASCADE,
    version      integer NOT NULL CHECK (version >= 1),
    source       jsonb NOT NULL,          -- the document as it was sent
    canonical    jsonb NOT NULL,          -- CheckedStrategy.canonical
    shape_hash   text NOT NULL,           -- CheckedStrategy.shape_hash
    language     text NOT NULL,           -- e.g. ticktide-rules/1
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (strategy_id, version)
);

-- A version never changes and is never removed on its own: only together with its
-- strategy (when its owner is deleted, the cascade removes the strategy first).
CREATE FUNCTION strategy_versions_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND NOT EXISTS (SELECT 1 FROM strategies WHERE id = OLD.strategy_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'strategy versions are immutable (% of strategy %, version %)',
        lower(TG_OP), OLD.strategy_id, OLD.version
        USING ERRCODE = 'restrict_violation';
END
$$;

CREATE TRIGGER strategy_versions_immutable
    BEFORE UPDATE OR DELETE ON strategy_versions
    FOR EACH ROW EXECUTE FUNCTION strategy_versions_immutable();
