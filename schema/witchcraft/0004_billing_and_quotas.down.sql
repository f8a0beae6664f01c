DROP TABLE quota_reservations;
DROP TABLE usage_alerts;
DROP TABLE payment_history;
DROP TABLE user_quotas;
DROP TABLE user_subscriptions;
DROP TABLE subscription_tiers;
