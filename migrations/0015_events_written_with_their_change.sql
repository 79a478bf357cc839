-- Order events and their outbox rows are written by the Worker in the same batch (one
-- transaction) as the change they record, with the request's clock (edge-worker
-- ledger/events.rs): the triggers that wrote them, with a second clock of their own, go. The
-- triggers that guard invariants stay: paid_never_goes_back, refunds_never_exceed_payment,
-- order_events_no_update / _no_delete.
DROP TRIGGER IF EXISTS log_status_change;
DROP TRIGGER IF EXISTS refund_status_change;
DROP TRIGGER IF EXISTS order_event_to_outbox;
