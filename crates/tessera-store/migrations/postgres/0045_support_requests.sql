-- Support requests made from the portal's Get Help menu ("Contact a support agent"):
-- numbered per year from the counters (SR-2026-000001), about one of the organization's
-- orders or named-user subscriptions or about nothing in particular, with the messages
-- of the customer and of the vendor's staff and their attachments (screenshots, text).
-- A message's e-mails (the receipt and the staff notice, a reply to the customer) are
-- stored in the outbox after its commit; announced_at says they were, and the portal's
-- recovery task announces a message a stop left without them.
CREATE TABLE support_requests (
    id               TEXT   NOT NULL PRIMARY KEY,
    number           TEXT   NOT NULL UNIQUE,
    organization_id  TEXT   NOT NULL REFERENCES organizations (id),
    user_id          TEXT   NOT NULL REFERENCES users (id),
    topic            TEXT   NOT NULL,
    about_kind       TEXT   CHECK (about_kind IN ('order', 'subscription')),
    about_id         TEXT,
    about_label      TEXT   NOT NULL DEFAULT '',
    status           TEXT   NOT NULL CHECK (status IN ('open', 'answered', 'closed')),
    assignee_user_id TEXT   REFERENCES users (id),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX support_requests_by_organization ON support_requests (organization_id, created_at);
CREATE INDEX support_requests_by_status ON support_requests (status, updated_at);

CREATE TABLE support_messages (
    id             TEXT   NOT NULL PRIMARY KEY,
    request_id     TEXT   NOT NULL REFERENCES support_requests (id),
    author_user_id TEXT   NOT NULL REFERENCES users (id),
    from_staff     BIGINT NOT NULL DEFAULT 0,
    body           TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    announced_at   BIGINT
);
CREATE INDEX support_messages_by_request ON support_messages (request_id, created_at);
CREATE INDEX support_messages_unannounced ON support_messages (announced_at, created_at);

CREATE TABLE support_attachments (
    id           TEXT   NOT NULL PRIMARY KEY,
    message_id   TEXT   NOT NULL REFERENCES support_messages (id),
    filename     TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    content      BYTEA  NOT NULL
);
CREATE INDEX support_attachments_by_message ON support_attachments (message_id);
