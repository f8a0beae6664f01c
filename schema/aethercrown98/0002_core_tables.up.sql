-- The five AetherCrown98 tables, every column, type, default, NOT NULL, UNIQUE and foreign
-- key exactly as the schema document writes them.
--
-- Row level security is enabled in the same transaction that creates each table, so no
-- table is ever reachable by the API roles without it; the policies follow in 0004.
-- Privileges are stated exactly, the same on plain Postgres and on Supabase (whose default
-- privileges would otherwise give anon, authenticated and service_role ALL, TRUNCATE
-- included, which row level security does not cover): authenticated and service_role may
-- SELECT, INSERT, UPDATE and DELETE, and the policies decide which rows; anon gets no
-- privilege at all.

CREATE TABLE users (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  email VARCHAR(255) UNIQUE NOT NULL,
  name VARCHAR(255),
  password_hash VARCHAR(255),
  role VARCHAR(50) DEFAULT 'user',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  last_login TIMESTAMP WITH TIME ZONE
);

CREATE TABLE ai_clones (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name VARCHAR(255) NOT NULL,
  description TEXT,
  model_type VARCHAR(100) NOT NULL,
  status VARCHAR(50) DEFAULT 'active',
  config JSONB DEFAULT '{}',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  user_id UUID REFERENCES users(id) ON DELETE CASCADE
);

CREATE TABLE ai_tasks (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  clone_id UUID REFERENCES ai_clones(id) ON DELETE CASCADE,
  task_name VARCHAR(255) NOT NULL,
  task_input JSONB DEFAULT '{}',
  task_output JSONB DEFAULT '{}',
  status VARCHAR(50) DEFAULT 'pending',
  priority VARCHAR(50) DEFAULT 'medium',
  error_message TEXT,
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  completed_at TIMESTAMP WITH TIME ZONE
);

CREATE TABLE payments (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id VARCHAR(255) UNIQUE NOT NULL,
  amount DECIMAL(10, 2) NOT NULL,
  currency VARCHAR(10) DEFAULT 'USD',
  status VARCHAR(50) DEFAULT 'created',
  description TEXT,
  payment_method VARCHAR(50) DEFAULT 'paypal',
  metadata JSONB DEFAULT '{}',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  completed_at TIMESTAMP WITH TIME ZONE,
  user_id UUID REFERENCES users(id) ON DELETE SET NULL
);

-- Created as the document writes it; 0006 turns it into a table partitioned by month.
CREATE TABLE activity_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  log_type VARCHAR(50) NOT NULL,
  entity_id UUID NOT NULL,
  action VARCHAR(255) NOT NULL,
  details JSONB DEFAULT '{}',
  level VARCHAR(50) DEFAULT 'info',
  created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
  user_id UUID REFERENCES users(id) ON DELETE SET NULL
);

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_clones ENABLE ROW LEVEL SECURITY;
ALTER TABLE ai_tasks ENABLE ROW LEVEL SECURITY;
ALTER TABLE payments ENABLE ROW LEVEL SECURITY;
ALTER TABLE activity_logs ENABLE ROW LEVEL SECURITY;

-- Exactly these privileges, whatever the platform grants by default (on Supabase, ALL to
-- anon, authenticated and service_role on every new table in public: TRUNCATE is not
-- covered by row level security).
REVOKE ALL ON users, ai_clones, ai_tasks, payments, activity_logs
  FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON users, ai_clones, ai_tasks, payments, activity_logs
  TO authenticated, service_role;
