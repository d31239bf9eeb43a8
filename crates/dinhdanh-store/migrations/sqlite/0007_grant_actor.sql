-- A guardian signing in for a child under 14, who has no account of their own: the grant is
-- the child's (`person_id`), and `actor_id` names the guardian who acted. Tokens of such a
-- grant carry the guardian as the actor (`act`, RFC 8693 §4.1) under their own pairwise
-- subject.
ALTER TABLE oidc_grants ADD COLUMN actor_id TEXT REFERENCES persons (id);
