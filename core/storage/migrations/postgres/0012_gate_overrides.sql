-- The certification gate overrides across tickets, newest first (the console's /training and
-- /staff/{id}): a partial index over the `certification_overridden` events alone, so the list
-- reads those rows in id order (keyset on id) and never scans the other events.
CREATE INDEX ticket_events_overrides ON ticket_events (id) WHERE kind = 'certification_overridden';
