#include "cli/format.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace lwgate::cli {
namespace {

using Json = nlohmann::json;

// Length of a valid UTF-8 sequence starting at text[i], 0 when it is not one.
std::size_t utf8Sequence(std::string_view text, std::size_t i) {
  auto c = static_cast<unsigned char>(text[i]);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xe  ? 3
                  : (c >> 3) == 0x1e ? 4
                                     : 0;
  if (n == 0 || i + n > text.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(text[i + k]) >> 6) != 0x2) return 0;
  }
  // Overlong forms and surrogates are not UTF-8 (RFC 3629 section 3).
  auto c1 = static_cast<unsigned char>(n > 1 ? text[i + 1] : 0);
  if (n == 2 && c < 0xc2) return 0;
  if (n == 3 && ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0))) return 0;
  if (n == 4 && ((c == 0xf0 && c1 < 0x90) || c > 0xf4 || (c == 0xf4 && c1 >= 0x90))) return 0;
  return n;
}

// Terminal columns of sanitized text: one per code point (no East Asian widths; names and
// values here are overwhelmingly ASCII).
std::size_t displayWidth(std::string_view text) {
  std::size_t width = 0;
  for (unsigned char c : text) {
    if ((c >> 6) != 0x2) ++width;
  }
  return width;
}

std::string orDash(const std::optional<std::string>& s) {
  return s && !s->empty() ? *s : "-";
}

std::string numberOrDash(const std::optional<std::uint64_t>& n) {
  return n ? std::to_string(*n) : "-";
}

std::string yesNo(const std::optional<bool>& b) {
  return b ? (*b ? "yes" : "no") : "-";
}

Json stringOrNull(const Dict& dict, const std::string& key) {
  auto s = stringField(dict, key);
  return s ? Json(*s) : Json(nullptr);
}

Json unsignedOrNull(const Dict& dict, const std::string& key) {
  auto n = unsignedField(dict, key);
  return n ? Json(*n) : Json(nullptr);
}

Json boolOrNull(const Dict& dict, const std::string& key) {
  auto b = boolField(dict, key);
  return b ? Json(*b) : Json(nullptr);
}

std::string timestampOrDash(const Dict& dict, const std::string& key) {
  auto ms = unsignedField(dict, key);
  return ms ? formatTimestamp(*ms) : "-";
}

// Splits link-format at the commas between links (not those inside quoted values).
std::vector<std::string> splitLinks(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  bool quoted = false;
  for (char c : text) {
    if (c == '"') quoted = !quoted;
    if (c == ',' && !quoted) {
      out.push_back(current);
      current.clear();
      continue;
    }
    current += c;
  }
  if (!current.empty()) out.push_back(current);
  return out;
}

std::string valueText(const Json& type, const Json& value) {
  std::string t = type.is_string() ? type.get<std::string>() : "";
  if (value.is_string()) {
    std::string s = value.get<std::string>();
    if (t == "opaque") {
      auto bytes = fromBase64(s);
      if (bytes) return bytes->empty() ? "(empty)" : toHex(*bytes);
    }
    return s;
  }
  if (t == "time" && value.is_number_integer()) {
    auto seconds = value.get<std::int64_t>();
    return std::to_string(seconds) +
           (seconds >= 0 ? " (" + formatTimestamp(static_cast<std::uint64_t>(seconds) * 1000) + ")"
                         : "");
  }
  return dumpJson(value);
}

std::string quoteIfNeeded(const std::string& text) {
  if (!text.empty() && text.find_first_of(" \"=") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::optional<std::string> stringField(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return std::nullopt;
  if (auto* s = std::get_if<std::string>(&it->second)) return *s;
  return std::nullopt;
}

std::optional<std::uint64_t> unsignedField(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return std::nullopt;
  if (auto* u = std::get_if<std::uint64_t>(&it->second)) return *u;
  if (auto* i = std::get_if<std::int64_t>(&it->second); i && *i >= 0) {
    return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

std::optional<bool> boolField(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return std::nullopt;
  if (auto* b = std::get_if<bool>(&it->second)) return *b;
  return std::nullopt;
}

std::vector<std::string> stringsField(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return {};
  if (auto* v = std::get_if<std::vector<std::string>>(&it->second)) return *v;
  return {};
}

std::optional<Bytes> bytesField(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return std::nullopt;
  if (auto* b = std::get_if<Bytes>(&it->second)) return *b;
  return std::nullopt;
}

Json fieldJson(const Field& field) {
  return std::visit(
      [](const auto& v) -> Json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::monostate>) {
          return nullptr;
        } else if constexpr (std::is_same_v<T, Bytes>) {
          return toBase64(v);
        } else {
          return v;
        }
      },
      field);
}

std::string dumpJson(const Json& json, bool pretty) {
  return json.dump(pretty ? 2 : -1, ' ', false, Json::error_handler_t::replace);
}

void Table::addRow(std::vector<std::string> cells) {
  cells.resize(headers_.size());
  for (auto& cell : cells) cell = sanitize(cell);
  rows_.push_back(std::move(cells));
}

std::string Table::render(bool legend) const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  auto measure = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      widths[i] = std::max(widths[i], displayWidth(cells[i]));
    }
  };
  if (legend) measure(headers_);
  for (const auto& row : rows_) measure(row);
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(widths[i] - displayWidth(cells[i]) + 1, ' ');
    }
    // No trailing blanks: an empty last cell must not leave them.
    text.erase(text.find_last_not_of(' ') + 1);
    out += text + "\n";
  };
  if (legend) line(headers_);
  for (const auto& row : rows_) line(row);
  return out;
}

std::string renderBlock(const std::vector<Pair>& pairs) {
  std::size_t width = 0;
  for (const auto& p : pairs) width = std::max(width, displayWidth(p.key));
  std::string out;
  for (const auto& p : pairs) {
    out += std::string(width - displayWidth(p.key), ' ') + p.key + ": " +
           (p.value.empty() ? "-" : sanitize(p.value)) + "\n";
  }
  return out;
}

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t n = utf8Sequence(text, i);
    bool control = n == 1 && (c < 0x20 || c == 0x7f);
    // C1 controls (U+0080..U+009F) are two bytes starting with 0xC2.
    bool c1 = n == 2 && c == 0xc2 && static_cast<unsigned char>(text[i + 1]) < 0xa0;
    if (n == 0 || control || c1) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
      ++i;
      continue;
    }
    out.append(text.substr(i, n));
    i += n;
  }
  return out;
}

std::string formatDuration(std::uint64_t seconds) {
  std::uint64_t d = seconds / 86400, h = seconds % 86400 / 3600, m = seconds % 3600 / 60,
                s = seconds % 60;
  if (d > 0) return std::to_string(d) + "d" + (h ? " " + std::to_string(h) + "h" : "");
  if (h > 0) return std::to_string(h) + "h" + (m ? " " + std::to_string(m) + "min" : "");
  if (m > 0) return std::to_string(m) + "min" + (s ? " " + std::to_string(s) + "s" : "");
  return std::to_string(s) + "s";
}

std::string formatTimestamp(std::uint64_t unixMs) {
  if (unixMs == 0) return "-";
  std::time_t t = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buf;
}

std::string formatAgo(std::uint64_t unixMs, std::uint64_t nowMs) {
  if (unixMs == 0) return "-";
  if (unixMs > nowMs) return "in " + formatDuration((unixMs - nowMs) / 1000);
  return formatDuration((nowMs - unixMs) / 1000) + " ago";
}

std::string coapCodeName(std::string_view code) {
  static const std::map<std::string_view, std::string_view> names{
      {"2.01", "Created"},
      {"2.02", "Deleted"},
      {"2.03", "Valid"},
      {"2.04", "Changed"},
      {"2.05", "Content"},
      {"2.31", "Continue"},
      {"4.00", "Bad Request"},
      {"4.01", "Unauthorized"},
      {"4.02", "Bad Option"},
      {"4.03", "Forbidden"},
      {"4.04", "Not Found"},
      {"4.05", "Method Not Allowed"},
      {"4.06", "Not Acceptable"},
      {"4.08", "Request Entity Incomplete"},
      {"4.09", "Conflict"},
      {"4.12", "Precondition Failed"},
      {"4.13", "Request Entity Too Large"},
      {"4.15", "Unsupported Content-Format"},
      {"4.22", "Unprocessable Entity"},
      {"5.00", "Internal Server Error"},
      {"5.01", "Not Implemented"},
      {"5.02", "Bad Gateway"},
      {"5.03", "Service Unavailable"},
      {"5.04", "Gateway Timeout"},
      {"5.05", "Proxying Not Supported"},
  };
  auto it = names.find(code);
  return it == names.end() ? "" : std::string(it->second);
}

std::string contentFormatName(std::uint64_t format) {
  switch (format) {
    case 0:
      return "text";
    case 40:
      return "link-format";
    case 42:
      return "opaque";
    case 110:
      return "senml-json";
    case 112:
      return "senml-cbor";
    case 11542:
      return "tlv";
    case 11543:
      return "lwm2m-json";
    case 11544:
      return "lwm2m-cbor";
    default:
      return "";
  }
}

bool isErrorCode(std::string_view code) {
  return !code.empty() && (code[0] == '4' || code[0] == '5');
}

Json statusJson(const Dict& p) {
  Json listen = Json::array();
  for (const auto& uri : stringsField(p, "Listen")) listen.push_back(uri);
  return Json{{"version", stringOrNull(p, "Version")},
              {"uptime", unsignedOrNull(p, "Uptime")},
              {"devices", unsignedOrNull(p, "DeviceCount")},
              {"queued", unsignedOrNull(p, "QueuedRequests")},
              {"in_flight", unsignedOrNull(p, "InFlightRequests")},
              {"listen", p.count("Listen") ? listen : Json(nullptr)},
              {"modem", stringOrNull(p, "ModemState")},
              {"modem_sim", stringOrNull(p, "ModemSim")},
              {"modem_network", stringOrNull(p, "ModemNetwork")},
              {"modem_signal", unsignedOrNull(p, "ModemSignal")},
              {"modem_model", stringOrNull(p, "ModemModel")},
              {"modem_error", stringOrNull(p, "ModemError")}};
}

std::vector<Pair> statusBlock(const Dict& p) {
  std::string listen;
  for (const auto& uri : stringsField(p, "Listen")) listen += (listen.empty() ? "" : " ") + uri;
  auto uptime = unsignedField(p, "Uptime");
  std::vector<Pair> pairs{{"Version", orDash(stringField(p, "Version"))},
                          {"Uptime", uptime ? formatDuration(*uptime) : "-"},
                          {"Devices", numberOrDash(unsignedField(p, "DeviceCount"))},
                          {"Queued requests", numberOrDash(unsignedField(p, "QueuedRequests"))},
                          {"In flight", numberOrDash(unsignedField(p, "InFlightRequests"))},
                          {"Listen", listen},
                          {"Modem", orDash(stringField(p, "ModemState"))}};
  // The modem's details only when there is a modem.
  if (auto state = stringField(p, "ModemState"); state && *state != "none") {
    auto signal = unsignedField(p, "ModemSignal");
    pairs.push_back({"SIM", orDash(stringField(p, "ModemSim"))});
    pairs.push_back({"Network", orDash(stringField(p, "ModemNetwork"))});
    pairs.push_back({"Signal", signal ? std::to_string(*signal) + "%" : "-"});
    pairs.push_back({"Model", orDash(stringField(p, "ModemModel"))});
    if (auto error = stringField(p, "ModemError"); error && !error->empty()) {
      pairs.push_back({"Modem error", *error});
    }
  }
  return pairs;
}

Json modemJson(const Dict& p) {
  return Json{
      {"state", stringOrNull(p, "ModemState")},     {"sim", stringOrNull(p, "ModemSim")},
      {"network", stringOrNull(p, "ModemNetwork")}, {"signal", unsignedOrNull(p, "ModemSignal")},
      {"model", stringOrNull(p, "ModemModel")},     {"error", stringOrNull(p, "ModemError")}};
}

std::vector<Pair> modemBlock(const Dict& p) {
  auto signal = unsignedField(p, "ModemSignal");
  std::string state = orDash(stringField(p, "ModemState"));
  if (state == "none") state += " (no modem configured: [modem] backend)";
  return {{"State", state},
          {"SIM", orDash(stringField(p, "ModemSim"))},
          {"Network", orDash(stringField(p, "ModemNetwork"))},
          {"Signal", signal ? std::to_string(*signal) + "%" : "-"},
          {"Model", orDash(stringField(p, "ModemModel"))},
          {"Error", orDash(stringField(p, "ModemError"))}};
}

Json deviceJson(const std::string& objectPath, const Dict& p) {
  Json objects = Json::array();
  for (const auto& link : stringsField(p, "Objects")) objects.push_back(link);
  return Json{{"endpoint", stringOrNull(p, "Endpoint")},
              {"object_path", objectPath},
              {"location", stringOrNull(p, "Location")},
              {"address", stringOrNull(p, "Address")},
              {"binding", stringOrNull(p, "Binding")},
              {"queue_mode", boolOrNull(p, "QueueMode")},
              {"sms_number", stringOrNull(p, "SmsNumber")},
              {"lifetime", unsignedOrNull(p, "Lifetime")},
              {"lwm2m_version", stringOrNull(p, "LwM2MVersion")},
              {"registered_at", unsignedOrNull(p, "RegisteredAt")},
              {"last_seen", unsignedOrNull(p, "LastSeen")},
              {"awake", boolOrNull(p, "Awake")},
              {"queued", unsignedOrNull(p, "QueuedRequests")},
              {"objects", p.count("Objects") ? objects : Json(nullptr)}};
}

std::vector<Pair> deviceBlock(const Dict& p, std::uint64_t nowMs) {
  auto lifetime = unsignedField(p, "Lifetime");
  auto registered = unsignedField(p, "RegisteredAt");
  auto seen = unsignedField(p, "LastSeen");
  auto when = [&](const std::optional<std::uint64_t>& ms) -> std::string {
    if (!ms || *ms == 0) return "-";
    return formatTimestamp(*ms) + " (" + formatAgo(*ms, nowMs) + ")";
  };
  std::string objects;
  for (const auto& link : stringsField(p, "Objects")) {
    objects += (objects.empty() ? "" : " ") + link;
  }
  return {{"Endpoint", orDash(stringField(p, "Endpoint"))},
          {"Location", orDash(stringField(p, "Location"))},
          {"Address", orDash(stringField(p, "Address"))},
          {"Binding", orDash(stringField(p, "Binding"))},
          {"Queue mode", yesNo(boolField(p, "QueueMode"))},
          {"SMS number", orDash(stringField(p, "SmsNumber"))},
          {"Lifetime", lifetime ? std::to_string(*lifetime) + "s" : "-"},
          {"LwM2M version", orDash(stringField(p, "LwM2MVersion"))},
          {"Registered", when(registered)},
          {"Last seen", when(seen)},
          {"Awake", yesNo(boolField(p, "Awake"))},
          {"Queued", numberOrDash(unsignedField(p, "QueuedRequests"))},
          {"Objects", objects}};
}

Table deviceTable(const std::vector<Dict>& devices, std::uint64_t nowMs) {
  Table table({"ENDPOINT", "ADDRESS", "BINDING", "QUEUE-MODE", "AWAKE", "QUEUED", "LAST-SEEN"});
  for (const auto& p : devices) {
    auto seen = unsignedField(p, "LastSeen");
    table.addRow({orDash(stringField(p, "Endpoint")), orDash(stringField(p, "Address")),
                  orDash(stringField(p, "Binding")), yesNo(boolField(p, "QueueMode")),
                  yesNo(boolField(p, "Awake")), numberOrDash(unsignedField(p, "QueuedRequests")),
                  seen ? formatAgo(*seen, nowMs) : "-"});
  }
  return table;
}

namespace {
// awake_window comes as d or u.
Json numberOrNull(const Dict& dict, const std::string& key) {
  auto it = dict.find(key);
  if (it == dict.end()) return nullptr;
  if (auto* d = std::get_if<double>(&it->second)) return *d;
  return unsignedOrNull(dict, key);
}

// "30" for 30.0, "0.5" for 0.5: seconds as people write them.
std::string seconds(const Json& number) {
  double d = number.get<double>();
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}
}  // namespace

Json settingsJson(const std::string& endpoint, const Dict& s) {
  return Json{{"endpoint", endpoint},
              {"awake_window", numberOrNull(s, "awake_window")},
              {"sms_number", stringOrNull(s, "sms_number")},
              {"server_instance", unsignedOrNull(s, "server_instance")}};
}

std::vector<Pair> settingsBlock(const std::string& endpoint, const Dict& s) {
  Json awake = numberOrNull(s, "awake_window");
  auto instance = unsignedField(s, "server_instance");
  return {{"Endpoint", endpoint},
          {"Awake window", awake.is_null() ? "- (the [queue] default)" : seconds(awake) + "s"},
          {"SMS number", stringField(s, "sms_number").value_or("- (from the registration)")},
          {"Server instance", instance ? std::to_string(*instance) : "- (from the object links)"}};
}

namespace {

Json identityHex(const Dict& p) {
  Json hex = nullptr;
  if (auto id = bytesField(p, "identity")) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string text;
    for (std::uint8_t b : *id) {
      text += kDigits[b >> 4];
      text += kDigits[b & 0xf];
    }
    hex = text;
  }
  return hex;
}

}  // namespace

Json upstreamPskJson(const Dict& p) {
  const std::string identity = stringField(p, "identity_text").value_or("");
  return Json{{"server", stringOrNull(p, "server")},
              {"endpoint", stringOrNull(p, "endpoint")},
              {"identity", identity.empty() ? Json(nullptr) : Json(identity)},
              {"identity_hex", identity.empty() ? Json(nullptr) : identityHex(p)},
              {"key_set", boolOrNull(p, "key_set")},
              {"created", unsignedOrNull(p, "created")},
              {"updated", unsignedOrNull(p, "updated")}};
}

Table upstreamPskTable(const std::vector<Dict>& psks) {
  Table table({"SERVER", "ENDPOINT", "IDENTITY", "KEY", "UPDATED"});
  for (const auto& p : psks) {
    const std::string endpoint = stringField(p, "endpoint").value_or("");
    const std::string identity = stringField(p, "identity_text").value_or("");
    table.addRow({orDash(stringField(p, "server")), endpoint.empty() ? "(gateway)" : endpoint,
                  identity.empty() ? "(endpoint name)" : identity,
                  boolField(p, "key_set").value_or(false) ? "set" : "-",
                  timestampOrDash(p, "updated")});
  }
  return table;
}

Json pskJson(const Dict& p) {
  const Json hex = identityHex(p);
  return Json{
      {"identity", stringOrNull(p, "identity_text")}, {"identity_hex", hex},
      {"endpoint", stringOrNull(p, "endpoint")},      {"key_set", boolOrNull(p, "key_set")},
      {"created", unsignedOrNull(p, "created")},      {"updated", unsignedOrNull(p, "updated")}};
}

Table pskTable(const std::vector<Dict>& psks) {
  Table table({"IDENTITY", "ENDPOINT", "KEY", "UPDATED"});
  for (const auto& p : psks) {
    table.addRow({orDash(stringField(p, "identity_text")), orDash(stringField(p, "endpoint")),
                  boolField(p, "key_set").value_or(false) ? "set" : "-",
                  timestampOrDash(p, "updated")});
  }
  return table;
}

Json requestJson(const Dict& r) {
  Json result = nullptr;
  if (auto text = stringField(r, "json")) result = parseResultJson(*text);
  auto payload = bytesField(r, "payload");
  return Json{{"id", unsignedOrNull(r, "id")},
              {"endpoint", stringOrNull(r, "endpoint")},
              {"operation", stringOrNull(r, "operation")},
              {"path", stringOrNull(r, "path")},
              {"state", stringOrNull(r, "state")},
              {"code", stringOrNull(r, "code")},
              {"reason", stringOrNull(r, "reason")},
              {"created", unsignedOrNull(r, "created")},
              {"deadline", unsignedOrNull(r, "deadline")},
              {"sent", unsignedOrNull(r, "sent")},
              {"finished", unsignedOrNull(r, "finished")},
              {"attempts", unsignedOrNull(r, "attempts")},
              {"urgent", boolOrNull(r, "urgent")},
              {"idempotency_key", stringOrNull(r, "idempotency_key")},
              {"format", unsignedOrNull(r, "format")},
              {"payload", payload ? Json(toBase64(*payload)) : Json(nullptr)},
              {"result", result},
              {"decode_error", stringOrNull(r, "decode_error")}};
}

std::vector<Pair> requestBlock(const Dict& r) {
  std::string code = orDash(stringField(r, "code"));
  if (std::string name = coapCodeName(code); !name.empty()) code += " " + name;
  std::vector<Pair> pairs{{"Id", numberOrDash(unsignedField(r, "id"))},
                          {"Endpoint", orDash(stringField(r, "endpoint"))},
                          {"Operation", orDash(stringField(r, "operation"))},
                          {"Path", orDash(stringField(r, "path"))},
                          {"State", orDash(stringField(r, "state"))},
                          {"Code", code},
                          {"Unanswered", numberOrDash(unsignedField(r, "attempts"))},
                          {"Created", timestampOrDash(r, "created")},
                          {"Sent", timestampOrDash(r, "sent")},
                          {"Finished", timestampOrDash(r, "finished")},
                          {"Deadline", timestampOrDash(r, "deadline")}};
  // Optional lines only when they say something.
  if (auto reason = stringField(r, "reason"); reason && !reason->empty()) {
    pairs.push_back({"Reason", *reason});
  }
  if (auto key = stringField(r, "idempotency_key"); key && !key->empty()) {
    pairs.push_back({"Idempotency key", *key});
  }
  if (boolField(r, "urgent").value_or(false)) pairs.push_back({"Urgent", "yes"});
  if (auto format = unsignedField(r, "format"); format && *format != 65535) {
    std::string name = contentFormatName(*format);
    pairs.push_back({"Format", std::to_string(*format) + (name.empty() ? "" : " " + name)});
  }
  if (auto payload = bytesField(r, "payload"); payload && !payload->empty()) {
    pairs.push_back({"Payload", std::to_string(payload->size()) + " bytes"});
  }
  if (auto error = stringField(r, "decode_error"); error && !error->empty()) {
    pairs.push_back({"Decode error", *error});
  }
  return pairs;
}

Table requestsTable(const std::vector<Dict>& requests) {
  Table table({"ID", "ENDPOINT", "OPERATION", "PATH", "STATE", "CODE", "CREATED"});
  for (const auto& r : requests) {
    table.addRow({numberOrDash(unsignedField(r, "id")), orDash(stringField(r, "endpoint")),
                  orDash(stringField(r, "operation")), orDash(stringField(r, "path")),
                  orDash(stringField(r, "state")), orDash(stringField(r, "code")),
                  timestampOrDash(r, "created")});
  }
  return table;
}

Json parseResultJson(std::string_view text) {
  if (text.empty()) return nullptr;
  Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return std::string(text);
  return parsed;
}

std::string renderResult(const Json& result, bool legend) {
  if (result.is_null()) return "";
  if (result.is_string()) {
    std::string text = result.get<std::string>();
    // Link-format (Discover) reads better one link per line.
    if (!text.empty() && text[0] == '<') {
      std::string out;
      for (const auto& link : splitLinks(text)) out += sanitize(link) + "\n";
      return out;
    }
    return sanitize(text) + "\n";
  }
  if (result.is_array()) {
    Table table({"PATH", "TYPE", "VALUE"});
    for (const auto& record : result) {
      if (!record.is_object()) {
        table.addRow({"-", "-", dumpJson(record)});
        continue;
      }
      std::string path = record.value("path", "-");
      Json type = record.contains("type") ? record["type"] : Json(nullptr);
      Json value = record.contains("value") ? record["value"] : Json(nullptr);
      table.addRow(
          {path, type.is_string() ? type.get<std::string>() : "-", valueText(type, value)});
    }
    return table.render(legend);
  }
  return dumpJson(result) + "\n";
}

bool requestSucceeded(const Dict& r) {
  auto code = stringField(r, "code");
  return stringField(r, "state") == "done" && code && !code->empty() && (*code)[0] == '2';
}

std::string requestFailureMessage(const Dict& r) {
  std::string text =
      "request " + numberOrDash(unsignedField(r, "id")) + " " + orDash(stringField(r, "state"));
  auto code = stringField(r, "code");
  if (code && !code->empty()) {
    text += ": " + *code;
    if (std::string name = coapCodeName(*code); !name.empty()) text += " " + name;
  }
  if (auto reason = stringField(r, "reason"); reason && !reason->empty()) {
    text += (code && !code->empty() ? " (" + *reason + ")" : ": " + *reason);
  }
  return sanitize(text);
}

Json observationJson(const Dict& o) {
  return Json{{"id", unsignedOrNull(o, "id")},
              {"endpoint", stringOrNull(o, "endpoint")},
              {"path", stringOrNull(o, "path")},
              {"attributes", stringOrNull(o, "attributes")},
              {"format", unsignedOrNull(o, "format")},
              {"request", unsignedOrNull(o, "request")},
              {"created", unsignedOrNull(o, "created")},
              {"last_seq", unsignedOrNull(o, "last_seq")},
              {"last_notification", unsignedOrNull(o, "last_notification")}};
}

Table observationsTable(const std::vector<Dict>& observations) {
  Table table({"ID", "ENDPOINT", "PATH", "ATTRIBUTES", "CREATED", "LAST-NOTIFICATION"});
  for (const auto& o : observations) {
    table.addRow({numberOrDash(unsignedField(o, "id")), orDash(stringField(o, "endpoint")),
                  orDash(stringField(o, "path")), orDash(stringField(o, "attributes")),
                  timestampOrDash(o, "created"), timestampOrDash(o, "last_notification")});
  }
  return table;
}

Json notificationJson(const Dict& n) {
  Json result = nullptr;
  if (auto text = stringField(n, "json")) result = parseResultJson(*text);
  auto payload = bytesField(n, "payload");
  auto path = stringField(n, "path");
  return Json{{"id", unsignedOrNull(n, "id")},
              {"kind", stringOrNull(n, "kind")},
              {"endpoint", stringOrNull(n, "endpoint")},
              {"path", path && !path->empty() ? Json(*path) : Json(nullptr)},
              {"observation", unsignedOrNull(n, "observation")},
              {"observe_seq", unsignedOrNull(n, "observe_seq")},
              {"received", unsignedOrNull(n, "received")},
              {"format", unsignedOrNull(n, "format")},
              {"payload", payload ? Json(toBase64(*payload)) : Json(nullptr)},
              {"result", result},
              {"decode_error", stringOrNull(n, "decode_error")}};
}

std::string resultLine(const Json& result) {
  if (result.is_null()) return "";
  if (result.is_string()) return result.get<std::string>();
  if (!result.is_array()) return dumpJson(result);
  auto value = [](const Json& record) {
    Json type = record.contains("type") ? record["type"] : Json(nullptr);
    Json v = record.contains("value") ? record["value"] : Json(nullptr);
    return valueText(type, v);
  };
  if (result.size() == 1 && result[0].is_object()) return value(result[0]);
  std::string out;
  for (const auto& record : result) {
    if (!out.empty()) out += ' ';
    out += record.is_object() ? record.value("path", "?") + "=" + value(record) : dumpJson(record);
  }
  return out;
}

Table notificationsTable(const std::vector<Dict>& notifications) {
  Table table({"ID", "KIND", "PATH", "RECEIVED", "SEQ", "VALUE"});
  for (const auto& n : notifications) {
    std::string value = resultLine(parseResultJson(stringField(n, "json").value_or("")));
    if (auto error = stringField(n, "decode_error"); error && !error->empty()) {
      value = "(not decoded: " + *error + ")";
    }
    auto path = stringField(n, "path");
    table.addRow({numberOrDash(unsignedField(n, "id")), orDash(stringField(n, "kind")),
                  path && !path->empty() ? *path : "-", timestampOrDash(n, "received"),
                  numberOrDash(unsignedField(n, "observe_seq")), value});
  }
  return table;
}

Json smsJson(const Dict& s) {
  auto nonEmpty = [&](const char* key) {
    auto text = stringField(s, key);
    return text && !text->empty() ? Json(*text) : Json(nullptr);
  };
  return Json{{"id", unsignedOrNull(s, "id")},
              {"time", unsignedOrNull(s, "time")},
              {"updated", unsignedOrNull(s, "updated")},
              {"direction", stringOrNull(s, "direction")},
              {"endpoint", nonEmpty("endpoint")},
              {"number", stringOrNull(s, "number")},
              {"kind", stringOrNull(s, "kind")},
              {"request", unsignedOrNull(s, "request")},
              {"parts", unsignedOrNull(s, "parts")},
              {"status", stringOrNull(s, "status")},
              {"reference", unsignedOrNull(s, "reference")},
              {"detail", nonEmpty("detail")}};
}

Table smsTable(const std::vector<Dict>& rows) {
  Table table({"ID", "TIME", "DIR", "ENDPOINT", "NUMBER", "KIND", "REQUEST", "PARTS", "STATUS",
               "REF", "DETAIL"});
  for (const auto& s : rows) {
    table.addRow({numberOrDash(unsignedField(s, "id")), timestampOrDash(s, "time"),
                  orDash(stringField(s, "direction")), orDash(stringField(s, "endpoint")),
                  orDash(stringField(s, "number")), orDash(stringField(s, "kind")),
                  numberOrDash(unsignedField(s, "request")),
                  numberOrDash(unsignedField(s, "parts")), orDash(stringField(s, "status")),
                  numberOrDash(unsignedField(s, "reference")), orDash(stringField(s, "detail"))});
  }
  return table;
}

std::string eventLine(const Event& event, std::uint64_t unixMs) {
  std::time_t t = static_cast<std::time_t>(unixMs / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char clock[32];
  std::strftime(clock, sizeof clock, "%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03u", static_cast<unsigned>(unixMs % 1000));
  std::string line = std::string(clock) + millis + " " + event.signal;
  for (const auto& [name, value] : event.args) {
    std::string text;
    if (auto* s = std::get_if<std::string>(&value)) {
      text = *s;
    } else if (auto* b = std::get_if<Bytes>(&value)) {
      text = toHex(*b);
    } else {
      Json j = fieldJson(value);
      text = dumpJson(j);
    }
    line += " " + name + "=" + quoteIfNeeded(text);
  }
  return sanitize(line);
}

Json eventJson(const Event& event, std::uint64_t unixMs) {
  Json out{{"signal", event.signal}, {"time", unixMs}};
  for (const auto& [name, value] : event.args) {
    // RequestCompleted's json argument is JSON text: scripts get it parsed, as in requestJson.
    if (name == "json") {
      auto* text = std::get_if<std::string>(&value);
      out["result"] = text ? parseResultJson(*text) : Json(nullptr);
      continue;
    }
    out[name] = fieldJson(value);
  }
  return out;
}

Json upstreamServerJson(const Dict& u) {
  return Json{{"uri", stringOrNull(u, "uri")},
              {"devices", stringsField(u, "devices")},
              {"queue_mode", stringOrNull(u, "queue_mode")},
              {"psk", stringOrNull(u, "psk")},
              {"lifetime", unsignedOrNull(u, "lifetime")},
              {"hold_off", numberOrNull(u, "hold_off")},
              {"links", unsignedOrNull(u, "links")},
              {"registered", unsignedOrNull(u, "registered")},
              {"failing", unsignedOrNull(u, "failing")},
              {"last_error", stringOrNull(u, "last_error")}};
}

Table upstreamServerTable(const std::vector<Dict>& servers) {
  Table table({"SERVER", "MODE", "DEVICES", "LINKS", "REGISTERED", "FAILING", "LAST-ERROR"});
  for (const auto& u : servers) {
    std::string devices;
    for (const auto& d : stringsField(u, "devices")) (devices += devices.empty() ? "" : ",") += d;
    table.addRow({orDash(stringField(u, "uri")), orDash(stringField(u, "queue_mode")),
                  orDash(devices), numberOrDash(unsignedField(u, "links")),
                  numberOrDash(unsignedField(u, "registered")),
                  numberOrDash(unsignedField(u, "failing")), orDash(stringField(u, "last_error"))});
  }
  return table;
}

Json upstreamLinkJson(const Dict& l) {
  return Json{{"server", stringOrNull(l, "server")},
              {"endpoint", stringOrNull(l, "endpoint")},
              {"upstream_endpoint", stringOrNull(l, "upstream_endpoint")},
              {"state", stringOrNull(l, "state")},
              {"registered", boolOrNull(l, "registered")},
              {"location", stringOrNull(l, "location")},
              {"failures", unsignedOrNull(l, "failures")},
              {"last_error", stringOrNull(l, "last_error")},
              {"updated", unsignedOrNull(l, "updated")}};
}

Table upstreamLinkTable(const std::vector<Dict>& links) {
  Table table({"ENDPOINT", "SERVER", "UPSTREAM-EP", "STATE", "LOCATION", "FAILURES", "UPDATED",
               "LAST-ERROR"});
  for (const auto& l : links) {
    const auto updated = unsignedField(l, "updated");
    table.addRow({orDash(stringField(l, "endpoint")), orDash(stringField(l, "server")),
                  orDash(stringField(l, "upstream_endpoint")), orDash(stringField(l, "state")),
                  orDash(stringField(l, "location")), numberOrDash(unsignedField(l, "failures")),
                  updated && *updated > 0 ? formatTimestamp(*updated) : "-",
                  orDash(stringField(l, "last_error"))});
  }
  return table;
}

std::vector<Pair> upstreamBlock(const std::vector<Dict>& links) {
  std::vector<Pair> out;
  for (const auto& l : links) {
    std::string text = orDash(stringField(l, "server")) + " " + orDash(stringField(l, "state"));
    if (boolField(l, "registered").value_or(false)) {
      text += " at " + orDash(stringField(l, "location")) + " as " +
              orDash(stringField(l, "upstream_endpoint"));
    }
    const auto failures = unsignedField(l, "failures").value_or(0);
    if (failures > 0) {
      text += " (" + std::to_string(failures) +
              " failures: " + orDash(stringField(l, "last_error")) + ")";
    }
    out.push_back({"Upstream", text});
  }
  return out;
}

}  // namespace lwgate::cli
