-- A team's member list pages in join order: with this index the page is a range of it,
-- not a sort of the whole team on every request.
CREATE INDEX memberships_by_team ON memberships (team_id, created_at, id);
