-- Orderly's schema: identity (users, OAuth clients, codes, refresh tokens), catalogue
-- (products) and orders, plus idempotency records.
--
-- Conventions (architecture.md §4):
-- * Public ids are UUIDv7 stored as BINARY(16); no auto-increment number is ever on
--   the wire. UUIDv7 is time-ordered, so primary-key inserts stay append-mostly.
-- * Secrets are stored hashed only (argon2id for passwords and client secrets,
--   SHA-256 for high-entropy tokens and codes, looked up by hash).
-- * Mutable resources carry `version` for ETag / If-Match (optimistic concurrency).
-- * Every filter and sort used by the API has an index ending in `id`, the keyset
--   pagination tie-breaker.
-- * InnoDB, utf8mb4; times are UTC DATETIME(6).
-- Applied by crates/migrate, recorded with its SHA-256 in `schema_migrations`:
-- never edit this file once applied; add 0002_*.sql instead.

CREATE TABLE users (
    id             BINARY(16)    NOT NULL,
    email          VARCHAR(254)  NOT NULL,
    password_hash  VARCHAR(255)  NOT NULL,
    display_name   VARCHAR(100)  NULL,
    roles          SET('customer', 'admin') NOT NULL DEFAULT 'customer',
    status         ENUM('active', 'disabled') NOT NULL DEFAULT 'active',
    version        INT UNSIGNED  NOT NULL DEFAULT 1,
    created_at     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    -- Case-insensitive collation: `A@x.io` and `a@x.io` are one account.
    UNIQUE KEY uq_users_email (email),
    KEY ix_users_created (created_at, id),
    KEY ix_users_status_created (status, created_at, id),
    CONSTRAINT ck_users_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE oauth_clients (
    id                          BINARY(16)   NOT NULL,
    -- The public `client_id` (RFC 6749 §2.2), unique and case-sensitive.
    client_id                   VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    client_name                 VARCHAR(100) NOT NULL,
    client_type                 ENUM('public', 'confidential') NOT NULL,
    -- argon2id hash of the secret; NULL for public clients (RFC 6749 §2.1).
    secret_hash                 VARCHAR(255) NULL,
    token_endpoint_auth_method  ENUM('none', 'client_secret_basic', 'client_secret_post') NOT NULL,
    -- JSON array of exact redirect URIs (compared byte for byte).
    redirect_uris               JSON         NOT NULL,
    grant_types                 SET('authorization_code', 'refresh_token', 'client_credentials') NOT NULL,
    -- Space-separated scopes this client may request.
    scopes                      VARCHAR(1000) NOT NULL,
    status                      ENUM('active', 'disabled') NOT NULL DEFAULT 'active',
    version                     INT UNSIGNED NOT NULL DEFAULT 1,
    created_at                  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at                  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_oauth_clients_client_id (client_id),
    KEY ix_oauth_clients_created (created_at, id),
    CONSTRAINT ck_oauth_clients_secret CHECK (
        (client_type = 'public' AND secret_hash IS NULL AND token_endpoint_auth_method = 'none')
        OR (client_type = 'confidential' AND secret_hash IS NOT NULL AND token_endpoint_auth_method <> 'none')
    ),
    CONSTRAINT ck_oauth_clients_redirect_uris CHECK (JSON_TYPE(redirect_uris) = 'ARRAY')
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE authorization_codes (
    -- SHA-256 of the code; the code itself is never stored.
    code_hash              BINARY(32)    NOT NULL,
    client_id              BINARY(16)    NOT NULL,
    user_id                BINARY(16)    NOT NULL,
    redirect_uri           VARCHAR(2000) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    scope                  VARCHAR(1000) NOT NULL,
    -- PKCE (RFC 7636): S256 only; BASE64URL(SHA-256(verifier)) is 43 characters.
    code_challenge         CHAR(43)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    code_challenge_method  ENUM('S256')  NOT NULL DEFAULT 'S256',
    nonce                  VARCHAR(255)  NULL,
    auth_time              DATETIME(6)   NOT NULL,
    expires_at             DATETIME(6)   NOT NULL,
    -- Single use: consumed by one `UPDATE … WHERE used_at IS NULL`.
    used_at                DATETIME(6)   NULL,
    created_at             DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (code_hash),
    KEY ix_authorization_codes_client (client_id),
    KEY ix_authorization_codes_user (user_id),
    KEY ix_authorization_codes_expires (expires_at),
    CONSTRAINT fk_authorization_codes_client FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT fk_authorization_codes_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE refresh_tokens (
    id          BINARY(16)    NOT NULL,
    -- SHA-256 of the token; looked up by hash, never stored in clear.
    token_hash  BINARY(32)    NOT NULL,
    -- Rotation: every token descends from the first of its family; reuse of a used
    -- token revokes the whole family (RFC 9700 §4.14.2).
    family_id   BINARY(16)    NOT NULL,
    parent_id   BINARY(16)    NULL,
    client_id   BINARY(16)    NOT NULL,
    user_id     BINARY(16)    NOT NULL,
    scope       VARCHAR(1000) NOT NULL,
    issued_at   DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at  DATETIME(6)   NOT NULL,
    used_at     DATETIME(6)   NULL,
    revoked_at  DATETIME(6)   NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_refresh_tokens_hash (token_hash),
    KEY ix_refresh_tokens_family (family_id),
    KEY ix_refresh_tokens_parent (parent_id),
    KEY ix_refresh_tokens_client (client_id),
    KEY ix_refresh_tokens_user (user_id, issued_at),
    KEY ix_refresh_tokens_expires (expires_at),
    CONSTRAINT fk_refresh_tokens_client FOREIGN KEY (client_id) REFERENCES oauth_clients (id) ON DELETE CASCADE,
    CONSTRAINT fk_refresh_tokens_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT fk_refresh_tokens_parent FOREIGN KEY (parent_id) REFERENCES refresh_tokens (id) ON DELETE SET NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE products (
    id           BINARY(16)   NOT NULL,
    sku          VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name         VARCHAR(200) NOT NULL,
    description  TEXT         NULL,
    -- Money in minor units of an ISO 4217 currency: never floating point.
    price_minor  BIGINT       NOT NULL,
    currency     CHAR(3)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    stock        INT          NOT NULL DEFAULT 0,
    status       ENUM('active', 'archived') NOT NULL DEFAULT 'active',
    version      INT UNSIGNED NOT NULL DEFAULT 1,
    created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    UNIQUE KEY uq_products_sku (sku),
    -- Catalogue lists: filter by status (and currency), sort by created_at, price or name.
    KEY ix_products_status_created (status, created_at, id),
    KEY ix_products_status_price (status, price_minor, id),
    KEY ix_products_status_name (status, name, id),
    KEY ix_products_status_currency_price (status, currency, price_minor, id),
    CONSTRAINT ck_products_price CHECK (price_minor >= 0),
    CONSTRAINT ck_products_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    -- The last line of defence against overselling; the order transaction also
    -- decrements with `UPDATE … WHERE stock >= ?`.
    CONSTRAINT ck_products_stock CHECK (stock >= 0),
    CONSTRAINT ck_products_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE orders (
    id           BINARY(16)   NOT NULL,
    user_id      BINARY(16)   NOT NULL,
    status       ENUM('pending', 'paid', 'shipped', 'delivered', 'cancelled') NOT NULL DEFAULT 'pending',
    currency     CHAR(3)      CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    total_minor  BIGINT       NOT NULL,
    version      INT UNSIGNED NOT NULL DEFAULT 1,
    created_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    -- A user's orders, newest first, optionally by status; admin lists by status.
    KEY ix_orders_user_created (user_id, created_at, id),
    KEY ix_orders_user_status_created (user_id, status, created_at, id),
    KEY ix_orders_user_total (user_id, total_minor, id),
    KEY ix_orders_status_created (status, created_at, id),
    CONSTRAINT fk_orders_user FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE RESTRICT,
    CONSTRAINT ck_orders_total CHECK (total_minor >= 0),
    CONSTRAINT ck_orders_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT ck_orders_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE order_items (
    order_id          BINARY(16)        NOT NULL,
    line_no           SMALLINT UNSIGNED NOT NULL,
    product_id        BINARY(16)        NOT NULL,
    -- Captured at order time: later catalogue edits do not change past orders.
    sku               VARCHAR(64)       CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name              VARCHAR(200)      NOT NULL,
    unit_price_minor  BIGINT            NOT NULL,
    currency          CHAR(3)           CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    quantity          INT UNSIGNED      NOT NULL,
    PRIMARY KEY (order_id, line_no),
    KEY ix_order_items_product (product_id),
    CONSTRAINT fk_order_items_order FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE,
    CONSTRAINT fk_order_items_product FOREIGN KEY (product_id) REFERENCES products (id) ON DELETE RESTRICT,
    CONSTRAINT ck_order_items_quantity CHECK (quantity > 0),
    CONSTRAINT ck_order_items_price CHECK (unit_price_minor >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE idempotency_keys (
    -- Who sent it: the OAuth client and subject, so two callers never share a key.
    client_id         VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    subject           VARCHAR(64)   CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    idempotency_key   VARCHAR(255)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    -- SHA-256 of method, route and body: the same key with another body is a 422.
    request_hash      BINARY(32)    NOT NULL,
    state             ENUM('in_progress', 'completed') NOT NULL DEFAULT 'in_progress',
    response_status   SMALLINT UNSIGNED NULL,
    response_headers  JSON          NULL,
    response_body     MEDIUMBLOB    NULL,
    resource_id       BINARY(16)    NULL,
    created_at        DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at        DATETIME(6)   NOT NULL,
    PRIMARY KEY (client_id, subject, idempotency_key),
    KEY ix_idempotency_keys_expires (expires_at),
    CONSTRAINT ck_idempotency_keys_completed CHECK (state = 'in_progress' OR response_status IS NOT NULL)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
