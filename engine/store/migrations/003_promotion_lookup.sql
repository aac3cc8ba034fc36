-- Finding a promotion's target from its id alone (the API's approve/reject/cancel), at
-- once after the request, without waiting for a projection: an expression index on the
-- events that open a promotion.

CREATE INDEX events_promotion_requested_id ON events ((data->>'promotion_id'))
    WHERE type = 'Target.PromotionRequested';
