-- Teams, their people and named-user seats. A team belongs to an organization and has
-- an owner, its contract manager (the buyer); its members hold one role each (one
-- primary admin per team, secondary admins, users); the software coordinator is named on
-- the team (none: the contract manager). People are users of the organization, made at
-- invitation with no password until they accept. A named-user subscription holds N seats
-- in a team; a seat assignment gives one person the subscription's products; a named
-- session is the one device a person is signed in on.

CREATE TABLE teams (
    id                      TEXT   NOT NULL PRIMARY KEY,
    organization_id         TEXT   NOT NULL REFERENCES organizations (id),
    name                    TEXT   NOT NULL,
    owner_user_id           TEXT   NOT NULL REFERENCES users (id),
    software_coordinator_id TEXT   REFERENCES users (id),
    is_default              BIGINT NOT NULL DEFAULT 0,
    created_at              BIGINT NOT NULL
);
CREATE UNIQUE INDEX teams_by_name ON teams (organization_id, name);
CREATE UNIQUE INDEX teams_default ON teams (organization_id) WHERE is_default = 1;

CREATE TABLE team_members (
    team_id    TEXT   NOT NULL REFERENCES teams (id),
    user_id    TEXT   NOT NULL REFERENCES users (id),
    role       TEXT   NOT NULL CHECK (role IN ('primary_admin', 'secondary_admin', 'user')),
    first_name TEXT   NOT NULL DEFAULT '',
    last_name  TEXT   NOT NULL DEFAULT '',
    added_at   BIGINT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);
CREATE UNIQUE INDEX team_one_primary_admin ON team_members (team_id) WHERE role = 'primary_admin';

-- Every change of a team's owner (contract manager), primary admin or software
-- coordinator, with who made it.
CREATE TABLE team_role_changes (
    id           TEXT   NOT NULL PRIMARY KEY,
    team_id      TEXT   NOT NULL REFERENCES teams (id),
    what         TEXT   NOT NULL CHECK (what IN ('contract_manager', 'primary_admin', 'software_coordinator')),
    from_user_id TEXT,
    to_user_id   TEXT,
    changed_by   TEXT   NOT NULL,
    changed_at   BIGINT NOT NULL
);
CREATE INDEX team_role_changes_by_team ON team_role_changes (team_id, changed_at);

-- Invitations by e-mail: only the SHA-256 of the link's token; valid 7 days; sending
-- again replaces the link.
CREATE TABLE invitations (
    token_hash  TEXT   NOT NULL PRIMARY KEY,
    team_id     TEXT   NOT NULL REFERENCES teams (id),
    user_id     TEXT   NOT NULL REFERENCES users (id),
    invited_by  TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    accepted_at BIGINT
);
CREATE INDEX invitations_by_user ON invitations (user_id);

CREATE TABLE named_subscriptions (
    id              TEXT   NOT NULL PRIMARY KEY,
    organization_id TEXT   NOT NULL REFERENCES organizations (id),
    team_id         TEXT   NOT NULL REFERENCES teams (id),
    order_id        TEXT   UNIQUE,
    product_id      TEXT   NOT NULL,
    product_name    TEXT   NOT NULL,
    licensed        TEXT   NOT NULL, -- JSON array of the product ids it covers
    seats           BIGINT NOT NULL CHECK (seats >= 0),
    start_date      TEXT   NOT NULL,
    end_date        TEXT   NOT NULL, -- the last day
    created_at      BIGINT NOT NULL
);
CREATE INDEX named_subscriptions_by_team ON named_subscriptions (team_id);

CREATE TABLE seat_assignments (
    subscription_id TEXT   NOT NULL REFERENCES named_subscriptions (id),
    user_id         TEXT   NOT NULL REFERENCES users (id),
    assigned_by     TEXT   NOT NULL,
    assigned_at     BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, user_id)
);
CREATE INDEX seat_assignments_by_user ON seat_assignments (user_id);

-- A person's sign-in on one device. Signing in on another device ends the open one
-- ('superseded'); "Sign out of all devices" ends every one ('signed_out').
CREATE TABLE named_sessions (
    id         TEXT   NOT NULL PRIMARY KEY,
    user_id    TEXT   NOT NULL REFERENCES users (id),
    device     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    ended_at   BIGINT,
    end_reason TEXT   CHECK (end_reason IN ('superseded', 'signed_out', 'removed'))
);
CREATE INDEX named_sessions_by_user ON named_sessions (user_id, ended_at);
