-- Dropping the tables drops their indexes, constraints, grants and RLS settings with them.
-- Children first, so no foreign key is left pointing at a dropped table.
DROP TABLE activity_logs;
DROP TABLE payments;
DROP TABLE ai_tasks;
DROP TABLE ai_clones;
DROP TABLE users;
