-- First-contact resolution counts a ticket's public replies from staff (or partners). Kept on
-- the ticket as a counter, written with each reply, so the KPI reads one column instead of
-- searching every resolved ticket's timeline.
ALTER TABLE tickets ADD COLUMN staff_replies BIGINT NOT NULL DEFAULT 0;
UPDATE tickets SET staff_replies = (
    SELECT COUNT(*) FROM ticket_events e
    WHERE e.ticket_id = tickets.id AND e.kind = 'comment_added'
      AND e.data LIKE '%"visibility":"public"%' AND e.data NOT LIKE '%"from_customer":true%'
);
