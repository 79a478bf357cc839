-- A refund WeChat Pay notifies that this Worker never asked for (made in the merchant platform,
-- or by another system) is kept on its order once, as an event for a person to look at;
-- reconciliation flags it too (refund_not_booked).
CREATE UNIQUE INDEX one_outside_refund ON order_events(session_id, json_extract(detail, '$.out_refund_no'))
  WHERE kind = 'refund_outside';
