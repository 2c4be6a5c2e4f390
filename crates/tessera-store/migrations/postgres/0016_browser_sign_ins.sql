-- Sign-ins of programs through the browser (OAuth 2.0 Device Authorization Grant,
-- RFC 8628): a program asks for a code, the person signs in to the portal in a browser
-- and approves "Sign in Tessera on <computer>", and the program, asking meanwhile, gets
-- its named-user token once. Only the SHA-256 of the program's device code is kept.
CREATE TABLE browser_sign_ins (
    id TEXT PRIMARY KEY,
    user_code TEXT NOT NULL,
    device TEXT NOT NULL,
    computer TEXT NOT NULL,
    product TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    state TEXT NOT NULL,
    user_id TEXT,
    decided_at BIGINT,
    polled_at BIGINT
);
CREATE INDEX browser_sign_ins_by_user_code ON browser_sign_ins (user_code);
