-- KPIs and metrics. Percentiles are read by rank (ORDER BY the duration, OFFSET k) over these
-- expression indexes; the metrics refresher counts running clocks past their warning through
-- a partial index of clocks still running.
CREATE INDEX tickets_first_response_ms ON tickets ((first_response_at - created_at)) WHERE first_response_at IS NOT NULL;
CREATE INDEX tickets_resolution_ms ON tickets ((resolved_at - created_at)) WHERE resolved_at IS NOT NULL;
CREATE INDEX sla_clocks_running ON sla_clocks (kind) WHERE stopped_at IS NULL;
CREATE INDEX sla_clocks_breached ON sla_clocks (breached_at) WHERE breached_at IS NOT NULL;
