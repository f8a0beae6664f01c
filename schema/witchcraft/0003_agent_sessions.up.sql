-- Agent conversations: sessions, their messages, tool executions and user feedback, and the
-- pre-computed agent_session_stats.
--
-- An assistant message points at the ai_usage_requests row that produced it (the overview's
-- agent_messages 1 -> 0..1 ai_usage_requests): record_ai_usage() runs first, then the message
-- is inserted with the request's key. The unique key makes each request belong to at most one
-- message. A trigger keeps each session's message_count, total_tokens, total_cost_usd and
-- last_activity_at in step with its messages.

SELECT set_config('search_path', quote_ident(current_schema()) || ', pg_temp', true);

CREATE TABLE agent_sessions (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id          bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    model_id         integer REFERENCES ai_models (id) ON DELETE SET NULL,
    title            text,
    is_active        boolean NOT NULL DEFAULT true,
    message_count    integer NOT NULL DEFAULT 0,
    total_tokens     bigint NOT NULL DEFAULT 0,
    total_cost_usd   numeric(14, 6) NOT NULL DEFAULT 0,
    metadata         jsonb NOT NULL DEFAULT '{}',
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    ended_at         timestamptz,
    CONSTRAINT agent_sessions_ended_check CHECK (is_active = (ended_at IS NULL)),
    CONSTRAINT agent_sessions_totals_check
        CHECK (message_count >= 0 AND total_tokens >= 0 AND total_cost_usd >= 0)
);

CREATE TABLE agent_messages (
    id                       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id               bigint NOT NULL REFERENCES agent_sessions (id) ON DELETE CASCADE,
    role                     text NOT NULL,
    content                  text NOT NULL,
    tokens                   integer NOT NULL DEFAULT 0,
    usage_request_id         bigint,
    usage_request_created_at timestamptz,
    metadata                 jsonb NOT NULL DEFAULT '{}',
    created_at               timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_messages_role_check CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    CONSTRAINT agent_messages_tokens_check CHECK (tokens >= 0),
    CONSTRAINT agent_messages_usage_request_check
        CHECK ((usage_request_id IS NULL) = (usage_request_created_at IS NULL)),
    CONSTRAINT agent_messages_usage_request_key UNIQUE (usage_request_id, usage_request_created_at),
    CONSTRAINT agent_messages_usage_request_fkey FOREIGN KEY (usage_request_id, usage_request_created_at)
        REFERENCES ai_usage_requests (id, created_at) ON DELETE SET NULL,
    -- what agent_feedback's foreign key points at: a message together with its session
    CONSTRAINT agent_messages_id_session_key UNIQUE (id, session_id)
);

CREATE TABLE agent_tool_calls (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id    bigint NOT NULL REFERENCES agent_sessions (id) ON DELETE CASCADE,
    message_id    bigint REFERENCES agent_messages (id) ON DELETE CASCADE,
    tool_name     text NOT NULL,
    arguments     jsonb NOT NULL DEFAULT '{}',
    result        jsonb,
    status        text NOT NULL DEFAULT 'pending',
    error_message text,
    duration_ms   integer,
    created_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz,
    CONSTRAINT agent_tool_calls_status_check CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
    CONSTRAINT agent_tool_calls_duration_check CHECK (duration_ms IS NULL OR duration_ms >= 0)
);

CREATE TABLE agent_feedback (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id bigint NOT NULL REFERENCES agent_sessions (id) ON DELETE CASCADE,
    message_id bigint,
    rating     smallint NOT NULL,
    comment    text,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT agent_feedback_rating_check CHECK (rating BETWEEN 1 AND 5),
    -- Feedback on a message cites a message of the same session: nobody can attach feedback
    -- to another user's message (nor lose it when that user deletes theirs).
    CONSTRAINT agent_feedback_message_fkey FOREIGN KEY (message_id, session_id)
        REFERENCES agent_messages (id, session_id) ON DELETE CASCADE
);

ALTER TABLE agent_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_tool_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE agent_feedback ENABLE ROW LEVEL SECURITY;

-- Keeps the session's counters and totals in step with its messages. SECURITY DEFINER: the
-- caller inserting a message may not update those columns itself.
CREATE FUNCTION agent_messages_update_session() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    m agent_messages;
    sign integer;
    cost numeric;
BEGIN
    IF TG_OP = 'INSERT' THEN
        m := NEW;
        sign := 1;
    ELSE
        m := OLD;
        sign := -1;
    END IF;
    SELECT coalesce(max(r.cost_usd), 0) INTO cost
      FROM ai_usage_requests r
     WHERE r.id = m.usage_request_id AND r.created_at = m.usage_request_created_at;
    UPDATE agent_sessions s
       SET message_count = s.message_count + sign,
           total_tokens = s.total_tokens + sign * m.tokens,
           total_cost_usd = s.total_cost_usd + sign * cost,
           last_activity_at = CASE WHEN sign > 0 THEN greatest(s.last_activity_at, m.created_at)
                                   ELSE s.last_activity_at END
     WHERE s.id = m.session_id;
    RETURN NULL;
END;
$$;
REVOKE ALL ON FUNCTION agent_messages_update_session() FROM PUBLIC, anon, authenticated, service_role;

CREATE TRIGGER agent_messages_update_session AFTER INSERT OR DELETE ON agent_messages
    FOR EACH ROW EXECUTE FUNCTION agent_messages_update_session();

-- Per-session statistics, refreshed by monthly_maintenance() (or by hand with
-- REFRESH MATERIALIZED VIEW CONCURRENTLY, which the unique index allows). A materialized
-- view cannot carry row level security, so the API roles get no access to it.
CREATE MATERIALIZED VIEW agent_session_stats AS
SELECT s.id AS session_id,
       s.user_id,
       s.is_active,
       s.started_at,
       s.ended_at,
       count(m.id) AS message_count,
       count(m.id) FILTER (WHERE m.role = 'user') AS user_message_count,
       count(m.id) FILTER (WHERE m.role = 'assistant') AS assistant_message_count,
       coalesce(sum(m.tokens), 0) AS total_tokens,
       s.total_cost_usd,
       (SELECT count(*) FROM agent_tool_calls t WHERE t.session_id = s.id) AS tool_call_count,
       (SELECT count(*) FROM agent_tool_calls t WHERE t.session_id = s.id AND t.status = 'failed') AS failed_tool_call_count,
       (SELECT round(avg(f.rating), 2) FROM agent_feedback f WHERE f.session_id = s.id) AS average_rating,
       max(m.created_at) AS last_message_at
  FROM agent_sessions s
  LEFT JOIN agent_messages m ON m.session_id = s.id
 GROUP BY s.id;

CREATE UNIQUE INDEX agent_session_stats_session_id_key ON agent_session_stats (session_id);
CREATE INDEX agent_session_stats_user_id ON agent_session_stats (user_id);
REVOKE ALL ON agent_session_stats FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON agent_session_stats TO service_role;

-- Privileges of the API roles (granted with the tables, so dropping a table takes them
-- along): what each role may attempt; the policies of 0006 decide which rows. No policy
-- exists yet, so RLS denies every row until then.
-- Exactly these privileges, whatever the platform grants by default (on Supabase: ALL to
-- anon, authenticated and service_role on every table and sequence created in public, and
-- a table-wide grant makes the column grants below moot).
REVOKE ALL ON agent_sessions, agent_messages, agent_tool_calls, agent_feedback FROM PUBLIC, anon, authenticated, service_role;
REVOKE ALL ON SEQUENCE agent_sessions_id_seq, agent_messages_id_seq, agent_tool_calls_id_seq,
    agent_feedback_id_seq FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT ON agent_sessions, agent_messages, agent_tool_calls, agent_feedback TO authenticated;
GRANT INSERT (user_id, model_id, title, metadata) ON agent_sessions TO authenticated;
GRANT UPDATE (title, is_active, ended_at, metadata) ON agent_sessions TO authenticated;
GRANT INSERT (session_id, role, content, metadata) ON agent_messages TO authenticated;
GRANT INSERT (user_id, session_id, message_id, rating, comment) ON agent_feedback TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON agent_sessions, agent_messages, agent_tool_calls, agent_feedback TO service_role;
