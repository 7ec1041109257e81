// lwgate's schema, as numbered forward migrations (see database.h).
//
// Rules for adding one: append a Migration with the next number; never edit a shipped one (a
// database at that version already exists somewhere); the script runs inside one transaction with
// foreign_keys OFF and is followed by a foreign_key_check, so the 12-step "create new table, copy,
// drop, rename" procedure of https://sqlite.org/lang_altertable.html is safe to use; add fill data
// for the new version to the migration test (tests/unit/db/database_test.cpp).
//
// Conventions: times are INTEGER Unix milliseconds of the wall clock (gateway/core/clock.h
// toUnixMillis), durations carry their unit in the name (_ms), booleans are INTEGER 0/1, CoAP
// tokens are BLOBs of 0..8 bytes, content formats are the CoAP Content-Format numbers.
#include <array>

#include "db/database.h"

namespace lwgate::db {
namespace {

constexpr std::string_view kSchema1 = R"sql(
-- One row per endpoint that ever registered. Kept across re-registration and expiry so that the
-- device's queue, observations and settings survive them; removed only by an operator.
CREATE TABLE devices (
  id INTEGER PRIMARY KEY,
  endpoint TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  -- Settings an operator sets per device (D-Bus/CLI); NULL means "use the configuration".
  awake_window_ms INTEGER CHECK (awake_window_ms >= 0),
  -- MSISDN for the SMS wake-up when the device registers without sms=.
  sms_number TEXT,
  -- This gateway's Server object instance on the device (/1/<x>): target of the Registration
  -- Update Trigger (/1/x/8) and of the lifetime read (/1/x/1).
  server_instance INTEGER CHECK (server_instance BETWEEN 0 AND 65535)
);

-- The current registration of a device: at most one, so the device id is the key and a new
-- Register overwrites the row in place (an UPSERT), which writes fewer pages per commit than
-- deleting one row and inserting another.
CREATE TABLE registrations (
  device_id INTEGER PRIMARY KEY REFERENCES devices(id) ON DELETE CASCADE,
  location TEXT NOT NULL UNIQUE,  -- the id in Location-Path rd/<location>
  lifetime INTEGER NOT NULL CHECK (lifetime BETWEEN 0 AND 4294967295),  -- seconds
  lifetime_sync_pending INTEGER NOT NULL CHECK (lifetime_sync_pending IN (0, 1)),
  version TEXT NOT NULL,             -- lwm2m=
  binding_text TEXT NOT NULL,        -- b= as received
  binding_transports TEXT NOT NULL,  -- its transport letters without Q
  queue_mode INTEGER NOT NULL CHECK (queue_mode IN (0, 1)),
  sms_number TEXT,                   -- sms=, NULL when absent
  -- Canonical link-format (lwm2m::formatObjectList): alternate path, content formats, object
  -- and instance links with versions. Text, not rows: it is always read and written whole.
  object_links TEXT NOT NULL,
  transport TEXT NOT NULL,  -- 'udp', 'dtls', 'sms'
  address TEXT NOT NULL,    -- IP address, or MSISDN for sms
  port INTEGER NOT NULL CHECK (port BETWEEN 0 AND 65535),
  registered_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,  -- last Register or Update: the lifetime counts from here
  last_seen INTEGER NOT NULL
);

-- The downlink queue: every request to a device, from submission to its one final state.
CREATE TABLE requests (
  -- AUTOINCREMENT: ids are handed to callers, so one must never come back for another request
  -- after the newest rows were pruned.
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,          -- order in the device's queue, lowest first
  operation TEXT NOT NULL,       -- 'read', 'write', 'execute', 'observe', ...
  path TEXT NOT NULL,            -- LwM2M path(s), relative to the device's alternate path
  payload BLOB,
  content_format INTEGER,        -- of payload
  accept_format INTEGER,         -- asked-for response format; NULL: chosen from the registration
  urgent INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),  -- may wake by SMS at once
  state TEXT NOT NULL DEFAULT 'queued'
    CHECK (state IN ('queued', 'in_flight', 'done', 'failed', 'expired', 'cancelled')),
  idempotency_key TEXT,          -- caller's key; a second submit with it returns this id
  created_at INTEGER NOT NULL,
  deadline INTEGER,              -- expires when still not done by then; NULL: never
  attempts INTEGER NOT NULL DEFAULT 0,
  -- Message ID and token of the (last) transmission, persisted before sending so a restart
  -- retransmits with the same ones and the device's deduplication drops the repeat.
  coap_mid INTEGER CHECK (coap_mid BETWEEN 0 AND 65535),
  coap_token BLOB CHECK (length(coap_token) <= 8),
  sent_at INTEGER,
  response_code INTEGER,         -- CoAP code byte, class << 5 | detail (2.05 = 69)
  response_payload BLOB,
  response_format INTEGER,
  reason TEXT,                   -- why failed/expired/cancelled, for people
  finished_at INTEGER,
  UNIQUE (device_id, idempotency_key),
  CHECK ((finished_at IS NOT NULL) = (state IN ('done', 'failed', 'expired', 'cancelled')))
);
-- "Next request for this device".
CREATE INDEX requests_queued ON requests(device_id, seq) WHERE state = 'queued';
-- Start-up (everything in flight) and expiry sweeps (queued by deadline).
CREATE INDEX requests_state ON requests(state, deadline);

-- Observations the gateway holds on devices; they survive restarts and re-registration.
CREATE TABLE observations (
  id INTEGER PRIMARY KEY,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  path TEXT NOT NULL,            -- LwM2M path; for Observe-Composite the paths, space-separated
  token BLOB NOT NULL CHECK (length(token) BETWEEN 1 AND 8),
  attributes TEXT,               -- notification attributes as a query string ("pmin=10&pmax=60")
  accept_format INTEGER,
  request_id INTEGER REFERENCES requests(id) ON DELETE SET NULL,  -- the Observe that set it up
  created_at INTEGER NOT NULL,
  last_observe_seq INTEGER,      -- Observe option of the newest notification (RFC 7641 3.4)
  last_notification_at INTEGER,
  UNIQUE (device_id, token)
);
CREATE INDEX observations_path ON observations(device_id, path);
CREATE INDEX observations_request ON observations(request_id) WHERE request_id IS NOT NULL;

-- Notifications and LwM2M Send data received from devices, bounded per device (oldest pruned).
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,        -- arrival order
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  kind TEXT NOT NULL DEFAULT 'notify' CHECK (kind IN ('notify', 'send')),
  observation_id INTEGER REFERENCES observations(id) ON DELETE SET NULL,  -- NULL for Send
  path TEXT,                     -- copied, so it outlives the observation
  token BLOB,
  observe_seq INTEGER,
  received_at INTEGER NOT NULL,
  content_format INTEGER,
  payload BLOB NOT NULL
);
CREATE INDEX notifications_device ON notifications(device_id, id);
CREATE INDEX notifications_observation ON notifications(observation_id)
  WHERE observation_id IS NOT NULL;

-- Every SMS sent or received: the audit trail (lwgatectl sms log) and the source of the SMS
-- budgets and back-off.
CREATE TABLE sms_log (
  id INTEGER PRIMARY KEY,
  direction TEXT NOT NULL CHECK (direction IN ('out', 'in')),
  device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,  -- NULL: not a known device
  msisdn TEXT NOT NULL,
  kind TEXT NOT NULL,            -- 'trigger' (Registration Update Trigger), 'coap', 'other'
  request_id INTEGER REFERENCES requests(id) ON DELETE SET NULL,  -- the request it serves
  parts INTEGER NOT NULL DEFAULT 1 CHECK (parts >= 1),
  reference INTEGER,             -- TP-MR of the last part sent, matched by delivery reports
  status TEXT NOT NULL,          -- e.g. 'queued', 'sent', 'delivered', 'failed', 'received'
  detail TEXT,                   -- error or delivery-report detail, for people
  payload BLOB,                  -- received: the reassembled CoAP message
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX sms_log_device ON sms_log(device_id, created_at) WHERE device_id IS NOT NULL;
CREATE INDEX sms_log_created ON sms_log(created_at);
CREATE INDEX sms_log_reference ON sms_log(msisdn, reference) WHERE reference IS NOT NULL;
CREATE INDEX sms_log_request ON sms_log(request_id) WHERE request_id IS NOT NULL;
)sql";

// Notifications keep their payload as received; one the LwM2M codecs could not decode says why
// (the gateway stores it anyway: a malformed notification is data about the device too).
// Observe-Composite observations (FETCH) are told apart from plain ones (GET).
constexpr std::string_view kSchema2 = R"sql(
ALTER TABLE notifications ADD COLUMN decode_error TEXT;
ALTER TABLE observations ADD COLUMN composite INTEGER NOT NULL DEFAULT 0
  CHECK (composite IN (0, 1));
)sql";

// Migration 3 was reserved for the bridge while it was written alongside migration 4, and shipped
// empty: databases at version 3 or 4 have passed it, so it stays a no-op forever and the bridge's
// tables are migration 5. A migration is never changed once a database may have run it.
constexpr std::string_view kSchema3 = R"sql(
-- reserved for the bridge
)sql";

// DTLS pre-shared keys (gateway/core/credentials.h). The key of a PSK identity, and the one
// endpoint name that identity may register as. The endpoint is a name, not a devices row: a key
// is usually provisioned before the device first registers. The database file is 0600 (checked
// at every open) because of this table; keys are never logged or returned over D-Bus.
constexpr std::string_view kSchema4 = R"sql(
CREATE TABLE psk_credentials (
  identity BLOB PRIMARY KEY CHECK (length(identity) BETWEEN 1 AND 128),
  psk BLOB NOT NULL CHECK (length(psk) BETWEEN 1 AND 64),
  endpoint TEXT NOT NULL CHECK (length(endpoint) BETWEEN 1 AND 255),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX psk_credentials_endpoint ON psk_credentials(endpoint);
)sql";

// The bridge to upstream LwM2M servers (issue 6). `server` is the [[upstream]] uri as configured.
constexpr std::string_view kSchema5 = R"sql(
-- Each bridged device's registration on each upstream server, so that after a restart the bridge
-- sends an Update from its new socket instead of registering anew (which would end the server's
-- observations). What the server was told is kept to know what an Update must carry.
CREATE TABLE upstream_registrations (
  server TEXT NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  endpoint TEXT NOT NULL,            -- the name registered upstream (prefix + endpoint)
  location TEXT NOT NULL,            -- the Location-Path the server answered, segments joined by '/'
  lifetime INTEGER NOT NULL CHECK (lifetime BETWEEN 1 AND 4294967295),
  version TEXT NOT NULL,
  queue_mode INTEGER NOT NULL CHECK (queue_mode IN (0, 1)),
  object_links TEXT NOT NULL,
  updated_at INTEGER NOT NULL,       -- the last successful Register or Update
  PRIMARY KEY (server, device_id)
) WITHOUT ROWID;

-- Requests an upstream server sent, queued for the device like any other, until their answer
-- went upstream with the server's token (or 5.04 after answer_by).
CREATE TABLE upstream_exchanges (
  request_id INTEGER PRIMARY KEY REFERENCES requests(id) ON DELETE CASCADE,
  server TEXT NOT NULL,
  token BLOB NOT NULL CHECK (length(token) <= 8),
  answer_by INTEGER NOT NULL
);

-- An upstream server's observations, relayed to the device. Notifications are stored in
-- `notifications` like every other; forwarded_id is the newest one the server acknowledged, so
-- the rest is sent, in order, when the backhaul returns or after a restart. The Observe option
-- upstream is the notification's id, which only grows.
CREATE TABLE upstream_observations (
  id INTEGER PRIMARY KEY,
  server TEXT NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  token BLOB NOT NULL CHECK (length(token) <= 8),
  path TEXT NOT NULL,
  request_id INTEGER REFERENCES requests(id) ON DELETE SET NULL,          -- the Observe queued
  observation_id INTEGER REFERENCES observations(id) ON DELETE SET NULL,  -- once established
  forwarded_id INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  UNIQUE (server, device_id, token)
);
CREATE INDEX upstream_observations_observation ON upstream_observations(observation_id)
  WHERE observation_id IS NOT NULL;
)sql";

// LwM2M 1.1 Send (POST /dp) of bridged devices, forwarded to each upstream server in order. The
// Sends themselves are rows of `notifications` (kind 'send'); forwarded_id is the newest of the
// device's Sends the server answered, so what follows it goes when the backhaul allows, also
// after a restart. The row is made in the transaction that stores a Send while the device is
// bridged to the server (forwarded_id just below it), so no stored Send is left behind.
constexpr std::string_view kSchema6 = R"sql(
CREATE TABLE upstream_sends (
  server TEXT NOT NULL,
  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
  forwarded_id INTEGER NOT NULL,
  PRIMARY KEY (server, device_id)
) WITHOUT ROWID;
)sql";

// Pre-shared keys the bridge uses towards coaps:// upstream servers (issue 8), kept here rather
// than in the world-readable configuration file. `server` is the [[upstream]] uri as configured;
// `endpoint` the local device whose link uses the key ([[upstream]] psk = "device"), or '' for
// the one key the whole gateway uses with that server (psk = "gateway"). A NULL identity means
// the device's upstream endpoint name (prefix + endpoint); the gateway-wide one needs its own.
constexpr std::string_view kSchema7 = R"sql(
CREATE TABLE upstream_psk_credentials (
  server TEXT NOT NULL CHECK (length(server) BETWEEN 1 AND 1024),
  endpoint TEXT NOT NULL CHECK (length(endpoint) <= 255),
  identity BLOB CHECK (identity IS NULL OR length(identity) BETWEEN 1 AND 128),
  psk BLOB NOT NULL CHECK (length(psk) BETWEEN 1 AND 64),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  CHECK (endpoint <> '' OR identity IS NOT NULL),
  PRIMARY KEY (server, endpoint)
) WITHOUT ROWID;
)sql";

constexpr std::array kMigrations = {
    Migration{1, "devices, registrations, requests, observations, notifications, sms_log",
              kSchema1},
    Migration{2, "notifications.decode_error, observations.composite", kSchema2},
    Migration{3, "reserved for the bridge", kSchema3},
    Migration{4, "psk_credentials (DTLS pre-shared keys)", kSchema4},
    Migration{5, "upstream_registrations, upstream_exchanges, upstream_observations", kSchema5},
    Migration{6, "upstream_sends (LwM2M Send forwarded by the bridge)", kSchema6},
    Migration{7, "upstream_psk_credentials (PSKs for coaps:// upstream servers)", kSchema7},
};

}  // namespace

std::span<const Migration> migrations() {
  return kMigrations;
}

int latestSchemaVersion() {
  return kMigrations.back().version;
}

}  // namespace lwgate::db
