-- What a backtest ran, so that a result can be reproduced exactly (issue 14): a
-- batch of a saved strategy names its version (the document itself is immutable,
-- in strategy_versions), and every result names the engine version that computed
-- it (ticktide_backtest_worker.engine.ENGINE_VERSION). A batch of a built-in
-- strategy has no strategy_id: its name and the engine version say it all.

ALTER TABLE backtests
    ADD COLUMN strategy_id bigint REFERENCES strategies (id) ON DELETE SET NULL,
    ADD COLUMN strategy_version integer CHECK (strategy_version >= 1),
    ADD CHECK (strategy_id IS NULL OR strategy_version IS NOT NULL);

ALTER TABLE backtest_results ADD COLUMN engine_version text;
