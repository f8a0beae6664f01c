DROP MATERIALIZED VIEW agent_session_stats;
DROP TRIGGER agent_messages_update_session ON agent_messages;
DROP FUNCTION agent_messages_update_session();
DROP TABLE agent_feedback;
DROP TABLE agent_tool_calls;
DROP TABLE agent_messages;
DROP TABLE agent_sessions;
