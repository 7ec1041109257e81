#pragma once
// What lwgatectl prints: aligned tables and key/value blocks for people, JSON objects with fixed
// keys for scripts. Pure: the input is D-Bus data already converted to Dict (client.cpp), the
// output strings, so every format is unit-tested without a bus.
//
// The JSON keys are a stable interface (documented in lwgatectl(1), JSON OUTPUT); every key is
// always present, null when the daemon has no value for it. Add keys, never rename or drop.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cli/values.h"

namespace lwgate::cli {

// A property or dictionary value after conversion from its D-Bus variant (s, b, integers,
// d, ay, as, o as string); monostate for types the CLI does not know.
using Field = std::variant<std::monostate, bool, std::int64_t, std::uint64_t, double, std::string,
                           Bytes, std::vector<std::string>>;
using Dict = std::map<std::string, Field>;

std::optional<std::string> stringField(const Dict& dict, const std::string& key);
// Any integer field that is >= 0.
std::optional<std::uint64_t> unsignedField(const Dict& dict, const std::string& key);
std::optional<bool> boolField(const Dict& dict, const std::string& key);
std::vector<std::string> stringsField(const Dict& dict, const std::string& key);
std::optional<Bytes> bytesField(const Dict& dict, const std::string& key);
// bool, numbers, strings, arrays as JSON; bytes as base64; monostate as null.
nlohmann::json fieldJson(const Field& field);
// JSON text (indented by 2 when pretty); invalid UTF-8 in strings becomes U+FFFD instead of
// an exception.
std::string dumpJson(const nlohmann::json& json, bool pretty = false);

// Columns padded to the widest cell; the header line only with legend. Cells are sanitized.
class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void addRow(std::vector<std::string> cells);
  std::size_t rows() const { return rows_.size(); }
  std::string render(bool legend) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

// A networkctl-style block: keys right-aligned, "   Key: value". Values are sanitized; an
// empty value prints as "-".
struct Pair {
  std::string key;
  std::string value;
};
std::string renderBlock(const std::vector<Pair>& pairs);

// Control characters and invalid UTF-8 of peer-controlled text (endpoint names, reasons,
// string values) as \xNN, so they cannot move the cursor or forge lines on a terminal.
std::string sanitize(std::string_view text);

// "0s", "59s", "1min 5s", "2h 3min", "4d 5h".
std::string formatDuration(std::uint64_t seconds);
// Local time "2023-11-14 23:13:20 CET"; "-" for 0 (never).
std::string formatTimestamp(std::uint64_t unixMs);
// "3s ago", "2min ago", "in 5s" (clock skew), "-" for 0.
std::string formatAgo(std::uint64_t unixMs, std::uint64_t nowMs);
// RFC 7252 / 8132 names: "2.05" -> "Content"; "" when unknown.
std::string coapCodeName(std::string_view code);
// The --format names of CoAP Content-Formats (LwM2M 1.1 TS Core 7.1): 11542 -> "tlv"; "" when
// unknown.
std::string contentFormatName(std::uint64_t format);
// A CoAP code the device answered with that is not a success (4.xx, 5.xx).
bool isErrorCode(std::string_view code);

// --- Daemon status (properties of /org/lwgate/Gateway1, keys as the property names) ---
// JSON keys: version s, uptime n (seconds), devices n, queued n, in_flight n, listen [s],
// modem s ("none", "disconnected", "connected"), modem_sim s, modem_network s, modem_signal n
// (percent; null when unknown), modem_model s, modem_error s.
nlohmann::json statusJson(const Dict& properties);
std::vector<Pair> statusBlock(const Dict& properties);
// The modem alone (lwgatectl modem). JSON keys: state s ("none", "disconnected", "connected"),
// sim s, network s, signal n (percent; null when unknown), model s, error s.
nlohmann::json modemJson(const Dict& properties);
std::vector<Pair> modemBlock(const Dict& properties);

// --- Devices (properties of org.lwgate.Gateway1.Device) ---
// JSON keys: endpoint s, object_path s, location s, address s, binding s, queue_mode b,
// sms_number s, lifetime n, lwm2m_version s, registered_at n (Unix ms), last_seen n (Unix ms),
// awake b, queued n, objects [s].
nlohmann::json deviceJson(const std::string& objectPath, const Dict& properties);
std::vector<Pair> deviceBlock(const Dict& properties, std::uint64_t nowMs);
// ENDPOINT ADDRESS BINDING QUEUE-MODE AWAKE QUEUED LAST-SEEN, one row per device in the given
// order (callers sort).
Table deviceTable(const std::vector<Dict>& devices, std::uint64_t nowMs);

// --- Device settings (GetDeviceSettings) ---
// JSON keys: endpoint s, awake_window n (seconds), sms_number s, server_instance n; null when
// not set (the daemon's defaults apply).
nlohmann::json settingsJson(const std::string& endpoint, const Dict& settings);
std::vector<Pair> settingsBlock(const std::string& endpoint, const Dict& settings);

// --- DTLS pre-shared keys (ListPsks dictionaries; the daemon never returns a key) ---
// JSON keys: identity s (printable ASCII as it is, else "hex:" and the bytes in hex),
// identity_hex s, endpoint s, key_set b, created n, updated n (Unix ms).
nlohmann::json pskJson(const Dict& psk);
// IDENTITY ENDPOINT KEY UPDATED; KEY is "set" or "-".
Table pskTable(const std::vector<Dict>& psks);
// ListUpstreamPsks dictionaries. JSON keys: server s, endpoint s ("" for the gateway-wide key),
// identity s (null when it is the device's upstream endpoint name), identity_hex s, key_set b,
// created n, updated n.
nlohmann::json upstreamPskJson(const Dict& psk);
// SERVER ENDPOINT IDENTITY KEY UPDATED; ENDPOINT "(gateway)" for the gateway-wide key, IDENTITY
// "(endpoint name)" when it is the upstream endpoint name.
Table upstreamPskTable(const std::vector<Dict>& psks);

// --- The bridge (ListUpstreamServers / ListUpstreamLinks dictionaries) ---
// JSON keys as the D-Bus dictionaries: uri s, devices [s], queue_mode s, lifetime n, hold_off n,
// links n, registered n, failing n, last_error s.
nlohmann::json upstreamServerJson(const Dict& server);
// SERVER MODE DEVICES LINKS REGISTERED FAILING LAST-ERROR
Table upstreamServerTable(const std::vector<Dict>& servers);
// JSON keys: server s, endpoint s, upstream_endpoint s, state s, registered b, location s,
// failures n, last_error s, updated n (Unix ms, 0 for never).
nlohmann::json upstreamLinkJson(const Dict& link);
// ENDPOINT SERVER UPSTREAM-EP STATE LOCATION FAILURES UPDATED LAST-ERROR
Table upstreamLinkTable(const std::vector<Dict>& links);
// "Upstream: coap://... registered at /rd/5 as gw-x", one line per server, for lwgatectl show.
std::vector<Pair> upstreamBlock(const std::vector<Dict>& links);

// --- Requests (GetRequest / ListRequests dictionaries) ---
// JSON keys: id n, endpoint s, operation s, path s, state s, code s, reason s, created n,
// deadline n, sent n, finished n (Unix ms), attempts n, urgent b, idempotency_key s, format n,
// payload s (base64), result (the daemon's decoded payload: an array of
// {"path","type","value"} records, a string for link-format and text, or null),
// decode_error s.
nlohmann::json requestJson(const Dict& request);
std::vector<Pair> requestBlock(const Dict& request);
// ID ENDPOINT OPERATION PATH STATE CODE CREATED
Table requestsTable(const std::vector<Dict>& requests);
// The daemon's "json" text as JSON: null for "", the text itself as a string when it is not
// JSON (it always should be).
nlohmann::json parseResultJson(std::string_view text);
// The decoded values for people: a PATH TYPE VALUE table for records (opaque values in hex,
// as `write --type opaque` takes them; time as seconds and local time), one link per line
// for link-format, a string as it is; "" for null.
std::string renderResult(const nlohmann::json& result, bool legend);
// The request ended "done" with a 2.xx code.
bool requestSucceeded(const Dict& request);
// One line for stderr about a request that did not succeed: "request 7 failed: no answer",
// "request 7 done: 4.04 Not Found".
std::string requestFailureMessage(const Dict& request);

// --- Observations and notifications (ListObservations / ListNotifications) ---
// JSON keys: id n, endpoint s, path s, attributes s ("pmin=10&pmax=60"), format n, request n
// (the Observe that set it up), created n, last_seq n, last_notification n (Unix ms).
nlohmann::json observationJson(const Dict& observation);
// ID ENDPOINT PATH ATTRIBUTES CREATED LAST-NOTIFICATION
Table observationsTable(const std::vector<Dict>& observations);
// JSON keys: id n, endpoint s, path s, observation n, observe_seq n, received n (Unix ms),
// format n, payload s (base64), result (as in requestJson), decode_error s.
nlohmann::json notificationJson(const Dict& notification);
// ID PATH RECEIVED SEQ VALUE (the decoded values on one line)
Table notificationsTable(const std::vector<Dict>& notifications);
// Decoded values on one line: "95" for one record, "/3/0/0=Acme /3/0/9=95" for several, the
// text of a string result, "" for null.
std::string resultLine(const nlohmann::json& result);

// --- SMS log (ListSms) ---
// JSON keys: id n, time n, updated n (Unix ms), direction s ("out", "in"), endpoint s (null when
// the number is no device's), number s, kind s, request n, parts n, status s, reference n,
// detail s (null when empty).
nlohmann::json smsJson(const Dict& sms);
// ID TIME DIR ENDPOINT NUMBER KIND REQUEST PARTS STATUS REF DETAIL
Table smsTable(const std::vector<Dict>& rows);

// --- monitor ---
// A D-Bus signal with its arguments in order, e.g. {"RequestProgress", {{"id", 7}, ...}}.
struct Event {
  std::string signal;
  std::vector<std::pair<std::string, Field>> args;
};
// "12:00:03.123 RequestProgress id=7 endpoint=sim-1 stage=sent"; strings with spaces quoted.
std::string eventLine(const Event& event, std::uint64_t unixMs);
// {"signal": name, "time": Unix ms, then the arguments by name}.
nlohmann::json eventJson(const Event& event, std::uint64_t unixMs);

}  // namespace lwgate::cli
