-- Every node remembers who a token belongs to for a short while (src/auth/cache.rs). A change
-- of what sign-in reads — a user's role, state or name, a token revoked — tells every node
-- at commit, so each forgets what it read before.
CREATE FUNCTION sign_in_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ferrodesk_sign_in', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER users_sign_in_changed
    AFTER UPDATE OF email, name, role, active, is_owner, workspace_id, password_hash OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION sign_in_changed();
CREATE TRIGGER api_tokens_sign_in_changed
    AFTER UPDATE OF revoked_at, expires_at, user_id, workspace_id, token_hash OR DELETE ON api_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION sign_in_changed();
