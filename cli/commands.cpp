#include "cli/commands.h"

#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "cli/client.h"
#include "cli/exit_codes.h"
#include "cli/format.h"
#include "cli/values.h"
#include "lwgate/version.h"

namespace lwgate::cli {
namespace {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

constexpr int kExitInterrupted = 130;  // 128 + SIGINT, as shells report it

struct Globals {
  std::string bus = "system";
  bool json = false;
  bool noLegend = false;
  bool legend() const { return !noLegend; }
};

struct SubmitArgs {
  std::optional<double> ttl;
  std::string idempotencyKey;
  std::string format;
  bool urgent = false;
  bool wait = false;
  std::optional<double> timeout;
};

// A command-line value that does not parse (exit 2, like CLI11's own errors).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

template <class T>
T orUsage(Result<T> result) {
  if (!result) throw UsageError(result.error().message);
  return std::move(*result);
}

std::uint64_t nowMs() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void printJson(const Json& json) {
  std::cout << dumpJson(json) << std::endl;
}

bool isFinal(const std::string& state) {
  return state == "done" || state == "failed" || state == "expired" || state == "cancelled";
}

VariantMap submitOptions(const SubmitArgs& s) {
  VariantMap options;
  if (s.ttl) options["ttl"] = sdbus::Variant(*s.ttl);
  if (!s.idempotencyKey.empty()) options["idempotency_key"] = sdbus::Variant(s.idempotencyKey);
  if (s.urgent) options["urgent"] = sdbus::Variant(true);
  if (!s.format.empty()) {
    // A number is a CoAP Content-Format (q); a name ("tlv") goes as a string.
    std::uint16_t number = 0;
    auto [end, ec] = std::from_chars(s.format.data(), s.format.data() + s.format.size(), number);
    if (ec == std::errc() && end == s.format.data() + s.format.size()) {
      options["format"] = sdbus::Variant(number);
    } else {
      options["format"] = sdbus::Variant(s.format);
    }
  }
  return options;
}

VariantMap assignments(const std::vector<std::string>& texts, ValueType type) {
  VariantMap out;
  for (const auto& text : texts) {
    auto a = orUsage(parseResourceAssignment(text, type));
    out[a.key] = toVariant(a.value);
  }
  return out;
}

VariantMap attributes(const std::vector<std::string>& texts) {
  VariantMap out;
  for (const auto& text : texts) {
    auto a = orUsage(parseAttribute(text));
    out[a.key] = toVariant(a.value);
  }
  return out;
}

// "request 42: queued -> waiting -> sent", redrawn in place on a terminal.
class Progress {
 public:
  explicit Progress(bool enabled) : enabled_(enabled) {}
  // Whether a progress line showed this request (then it also ends with the outcome).
  bool shown(std::uint64_t id) const { return enabled_ && stages_.count(id) > 0; }

  void stage(std::uint64_t id, const std::string& stage) {
    auto& list = stages_[id];
    if (!list.empty() && list.back() == stage) return;
    list.push_back(stage);
    draw();
  }
  // Ends the line (it stays on screen as the summary).
  void finish() {
    if (enabled_ && drawn_) std::cout << std::endl;
    drawn_ = false;
  }

 private:
  void draw() {
    if (!enabled_) return;
    std::string line;
    for (const auto& [id, list] : stages_) {
      if (!line.empty()) line += "; ";
      line += "request " + std::to_string(id) + ":";
      for (std::size_t i = 0; i < list.size(); ++i) line += (i ? " -> " : " ") + list[i];
    }
    std::cout << "\r\033[K" << sanitize(line) << std::flush;
    drawn_ = true;
  }

  bool enabled_;
  bool drawn_ = false;
  std::map<std::uint64_t, std::vector<std::string>> stages_;
};

// What the signal handler saw; it may run for ids before the caller knows them, so it keeps
// everything and the caller picks its own ids.
struct Seen {
  std::map<std::uint64_t, Dict> completed;
  std::map<std::uint64_t, std::vector<std::string>> stages;
  Progress* progress = nullptr;
  bool daemonGone = false;

  void onEvent(const Event& event) {
    Dict args(event.args.begin(), event.args.end());
    auto id = unsignedField(args, "id");
    if (!id) return;
    if (event.signal == "RequestCompleted") {
      completed[*id] = args;
      std::string code = stringField(args, "code").value_or("");
      stage(*id, stringField(args, "state").value_or("?") + (code.empty() ? "" : " " + code));
    } else if (event.signal == "RequestProgress") {
      stage(*id, stringField(args, "stage").value_or("?"));
    }
  }
  void stage(std::uint64_t id, const std::string& name) {
    stages[id].push_back(name);
    if (progress) progress->stage(id, name);
  }
};

struct WaitOutcome {
  Client::Stop stop = Client::Stop::kDone;
  bool daemonGone = false;                 // lwgated left the bus before every request was final
  std::map<std::uint64_t, Dict> requests;  // final records, or the latest for unfinished ones
  std::set<std::uint64_t> progressShown;   // requests a progress line showed on the terminal
};

WaitOutcome waitFor(Client& client, Seen& seen, const std::vector<std::uint64_t>& ids,
                    std::optional<double> timeoutSeconds, bool showProgress) {
  Progress progress(showProgress);
  WaitOutcome outcome;
  // Subscribed before submitting, so nothing is missed from here on; GetRequest covers what
  // finished before (an idempotency key can return an old request's id).
  for (auto id : ids) {
    Dict r = client.request(id);
    std::string state = stringField(r, "state").value_or("");
    if (isFinal(state)) {
      outcome.requests[id] = r;
    } else {
      progress.stage(id, state == "in_flight" ? "sent" : state);
    }
  }
  seen.progress = &progress;
  for (auto& [id, list] : seen.stages) {
    for (const auto& s : list) progress.stage(id, s);
  }
  auto finished = [&] {
    for (auto id : ids) {
      if (!outcome.requests.count(id) && !seen.completed.count(id)) return false;
    }
    return true;
  };
  std::optional<SteadyClock::time_point> deadline;
  if (timeoutSeconds) {
    deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                        std::chrono::duration<double>(*timeoutSeconds));
  }
  outcome.stop = client.runUntil([&] { return finished() || seen.daemonGone; }, deadline);
  outcome.daemonGone = !finished() && seen.daemonGone;
  seen.progress = nullptr;
  progress.finish();
  for (auto id : ids) {
    if (progress.shown(id)) outcome.progressShown.insert(id);
  }
  for (auto id : ids) {
    if (outcome.requests.count(id)) continue;
    if (outcome.daemonGone && !seen.completed.count(id)) continue;  // nobody to ask
    // The full record (operation, path, times); the signal's fields if it cannot be had.
    try {
      outcome.requests[id] = client.request(id);
    } catch (const sdbus::Error&) {
      if (seen.completed.count(id)) outcome.requests[id] = seen.completed[id];
    }
  }
  return outcome;
}

// Prints a finished request for people; returns whether it succeeded.
bool printOutcome(const Globals& g, const Dict& r, bool progressShown) {
  // On a terminal the progress line already ends with the outcome.
  bool ok = requestSucceeded(r);
  if (!ok) {
    std::cerr << "lwgatectl: " << requestFailureMessage(r) << std::endl;
  } else if (g.legend() && !progressShown) {
    std::string code = stringField(r, "code").value_or("");
    std::cout << "request " << unsignedField(r, "id").value_or(0) << " done: " << code << " "
              << coapCodeName(code) << std::endl;
  }
  std::string text = renderResult(parseResultJson(stringField(r, "json").value_or("")), g.legend());
  std::cout << text << std::flush;
  return ok;
}

int reportWait(const Globals& g, std::uint64_t id, const WaitOutcome& outcome,
               std::optional<double> timeout) {
  auto it = outcome.requests.find(id);
  const Dict r = it == outcome.requests.end() ? Dict{{"id", id}} : it->second;
  if (g.json) printJson(requestJson(r));
  if (outcome.stop != Client::Stop::kDone || outcome.daemonGone) {
    std::string state = stringField(r, "state").value_or("unknown");
    if (!isFinal(state)) {
      std::string why = outcome.daemonGone ? "was not final when lwgated left the bus"
                        : outcome.stop == Client::Stop::kTimeout
                            ? "is still " + state + " after " +
                                  formatDuration(static_cast<std::uint64_t>(timeout.value_or(0)))
                            : "is still " + state + "; stopped waiting";
      std::cerr << "lwgatectl: request " << id << " " << why << " (it stays queued: lwgatectl "
                << "request " << id << " shows it, lwgatectl cancel " << id << " cancels it)"
                << std::endl;
    }
    if (outcome.daemonGone) return kExitNoDaemon;
    return outcome.stop == Client::Stop::kTimeout ? kExitTimeout : kExitInterrupted;
  }
  bool ok = g.json ? requestSucceeded(r) : printOutcome(g, r, outcome.progressShown.count(id) > 0);
  if (g.json && !ok) std::cerr << "lwgatectl: " << requestFailureMessage(r) << std::endl;
  return ok ? kExitOk : kExitFailed;
}

// Submits one request and returns its id.
using SubmitFn = std::function<std::uint64_t(Client&, const VariantMap& options)>;

int submitCommand(const Globals& g, const SubmitArgs& s, const SubmitFn& submit) {
  Client client(g.bus);
  Seen seen;
  if (s.wait) {
    client.subscribe(Client::Signals::kRequests, [&](const Event& e) { seen.onEvent(e); });
    client.watchDaemon([&] { seen.daemonGone = true; });
  }
  std::uint64_t id = submit(client, submitOptions(s));
  if (!s.wait) {
    if (g.json) {
      printJson(Json{{"id", id}});
    } else {
      std::cout << id << std::endl;
    }
    return kExitOk;
  }
  bool progress = !g.json && isatty(STDOUT_FILENO) == 1;
  WaitOutcome outcome = waitFor(client, seen, {id}, s.timeout, progress);
  return reportWait(g, id, outcome, s.timeout);
}

// --- verbs that only read ---

// A listing: with --json the JSON array json() builds; otherwise the table and, unless
// --no-legend, "N <noun> listed." (one/many: the noun's singular and plural).
int printListing(const Globals& g, std::size_t count, const std::function<Json()>& json,
                 const Table& table, const char* one, const char* many) {
  if (g.json) {
    printJson(json());
    return kExitOk;
  }
  std::cout << table.render(g.legend());
  if (g.legend()) std::cout << "\n" << count << " " << (count == 1 ? one : many) << " listed.\n";
  return kExitOk;
}

// Rows as a JSON array, each through toJson.
Json jsonArray(const std::vector<Dict>& rows, Json (*toJson)(const Dict&)) {
  Json array = Json::array();
  for (const auto& row : rows) array.push_back(toJson(row));
  return array;
}

// The paging options of the listing verbs, as the D-Bus methods take them.
VariantMap pageFilter(std::optional<std::uint32_t> limit, std::optional<std::uint64_t> after) {
  VariantMap filter;
  if (limit) filter["limit"] = sdbus::Variant(*limit);
  if (after) filter["after"] = sdbus::Variant(*after);
  return filter;
}

int statusCommand(const Globals& g) {
  Client client(g.bus);
  Dict p = client.status();
  if (g.json) {
    printJson(statusJson(p));
  } else {
    std::cout << renderBlock(statusBlock(p));
  }
  return kExitOk;
}

int listCommand(const Globals& g) {
  Client client(g.bus);
  auto devices = client.devices();
  std::vector<Dict> rows;
  for (const auto& [path, p] : devices) rows.push_back(p);
  auto json = [&] {
    Json array = Json::array();
    for (const auto& [path, p] : devices) array.push_back(deviceJson(path, p));
    return array;
  };
  return printListing(g, rows.size(), json, deviceTable(rows, nowMs()), "device", "devices");
}

int showCommand(const Globals& g, const std::string& endpoint) {
  Client client(g.bus);
  Dict p = client.device(endpoint);
  std::vector<Dict> upstream;
  for (const auto& l : client.gateway().ListUpstreamLinks(endpoint)) upstream.push_back(toDict(l));
  if (g.json) {
    Json device = deviceJson(devicePath(endpoint), p);
    device["upstream"] = jsonArray(upstream, upstreamLinkJson);
    printJson(device);
  } else {
    auto block = deviceBlock(p, nowMs());
    for (auto& pair : upstreamBlock(upstream)) block.push_back(std::move(pair));
    std::cout << renderBlock(block);
  }
  return kExitOk;
}

// --- upstream: the bridge's servers, or one device's upstream registrations ---

int upstreamCommand(const Globals& g, const std::string& endpoint) {
  Client client(g.bus);
  if (endpoint.empty()) {
    std::vector<Dict> servers;
    for (const auto& u : client.gateway().ListUpstreamServers()) servers.push_back(toDict(u));
    return printListing(
        g, servers.size(), [&] { return jsonArray(servers, upstreamServerJson); },
        upstreamServerTable(servers), "upstream server", "upstream servers");
  }
  std::vector<Dict> links;
  for (const auto& l : client.gateway().ListUpstreamLinks(endpoint)) links.push_back(toDict(l));
  return printListing(
      g, links.size(), [&] { return jsonArray(links, upstreamLinkJson); }, upstreamLinkTable(links),
      "upstream registration", "upstream registrations");
}

int requestsCommand(const Globals& g, const std::string& endpoint, const std::string& state,
                    std::optional<std::uint32_t> limit, std::optional<std::uint64_t> after) {
  Client client(g.bus);
  VariantMap filter = pageFilter(limit, after);
  if (!endpoint.empty()) filter["endpoint"] = sdbus::Variant(endpoint);
  if (!state.empty()) filter["state"] = sdbus::Variant(state);
  auto requests = client.requests(filter);
  return printListing(
      g, requests.size(), [&] { return jsonArray(requests, requestJson); }, requestsTable(requests),
      "request", "requests");
}

int requestCommand(const Globals& g, std::uint64_t id, bool wait, std::optional<double> timeout) {
  Client client(g.bus);
  Dict r;
  Client::Stop stop = Client::Stop::kDone;
  if (wait) {
    Seen seen;
    client.subscribe(Client::Signals::kRequests, [&](const Event& e) { seen.onEvent(e); });
    client.watchDaemon([&] { seen.daemonGone = true; });
    bool progress = !g.json && isatty(STDOUT_FILENO) == 1;
    WaitOutcome outcome = waitFor(client, seen, {id}, timeout, progress);
    if (outcome.stop != Client::Stop::kDone || outcome.daemonGone) {
      return reportWait(g, id, outcome, timeout);
    }
    stop = outcome.stop;
    r = outcome.requests[id];
  } else {
    r = client.request(id);
  }
  if (g.json) {
    printJson(requestJson(r));
  } else {
    std::cout << renderBlock(requestBlock(r));
    std::string values =
        renderResult(parseResultJson(stringField(r, "json").value_or("")), g.legend());
    if (!values.empty()) std::cout << "\n" << values;
  }
  // Without --wait, looking at a request is a success whatever its state.
  if (wait && stop == Client::Stop::kDone && !requestSucceeded(r)) return kExitFailed;
  return kExitOk;
}

int observationsCommand(const Globals& g, const std::string& endpoint) {
  Client client(g.bus);
  auto observations = client.observations(endpoint);
  return printListing(
      g, observations.size(), [&] { return jsonArray(observations, observationJson); },
      observationsTable(observations), "observation", "observations");
}

int notificationsCommand(const Globals& g, const std::string& endpoint,
                         std::optional<std::uint32_t> limit, std::optional<std::uint64_t> after) {
  Client client(g.bus);
  auto notifications = client.notifications(endpoint, pageFilter(limit, after));
  return printListing(
      g, notifications.size(), [&] { return jsonArray(notifications, notificationJson); },
      notificationsTable(notifications), "notification", "notifications");
}

int forgetCommand(const Globals& g, std::uint64_t id) {
  Client client(g.bus);
  client.gateway().ForgetObservation(id);
  return kExitOk;
}

int settingsCommand(const Globals& g, const std::string& endpoint,
                    const std::vector<std::string>& texts) {
  VariantMap changes;
  for (const auto& text : texts) {
    auto a = orUsage(parseSetting(text));
    changes[a.key] = toVariant(a.value);
  }
  Client client(g.bus);
  if (!changes.empty()) client.gateway().SetDeviceSettings(endpoint, changes);
  Dict settings = toDict(client.gateway().GetDeviceSettings(endpoint));
  if (g.json) {
    printJson(settingsJson(endpoint, settings));
  } else {
    std::cout << renderBlock(settingsBlock(endpoint, settings));
  }
  return kExitOk;
}

// --- psk: DTLS pre-shared keys. The key goes in only and is never printed or echoed. ---

Bytes identityBytes(const std::string& identity, bool hex) {
  if (!hex) return Bytes(identity.begin(), identity.end());
  return orUsage(fromHex(identity));
}

// The key from --key-hex or the first line of standard input; on a terminal the line is read
// with echo off. Messages about it never contain it.
Bytes readKey(const std::optional<std::string>& keyHex) {
  std::string text;
  if (keyHex) {
    text = *keyHex;
  } else {
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
      std::cerr << "PSK key (hex): " << std::flush;
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
      std::getline(std::cin, text);
      ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
      std::cerr << std::endl;
    } else {
      std::getline(std::cin, text);
    }
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  std::size_t start = 0;
  while (start < text.size() && std::isspace(static_cast<unsigned char>(text[start]))) ++start;
  text.erase(0, start);
  if (text.empty()) throw UsageError("no key: give --key-hex HEX or the hex key on standard input");
  auto key = fromHex(text);
  std::fill(text.begin(), text.end(), '\0');
  if (!key) throw UsageError("the key is not hex (an even number of digits 0-9a-f)");
  return std::move(*key);
}

int pskAddCommand(const Globals& g, const std::string& identity, bool identityHex,
                  const std::string& endpoint, const std::optional<std::string>& keyHex) {
  const Bytes id = identityBytes(identity, identityHex);
  Bytes key = readKey(keyHex);
  Client client(g.bus);
  client.gateway().AddPsk(id, key, endpoint);
  std::fill(key.begin(), key.end(), 0);
  if (g.json) printJson(Json{{"identity", identity}, {"endpoint", endpoint}, {"key_set", true}});
  return kExitOk;
}

// The bridge's keys towards a coaps:// upstream server (--upstream): the device is --endpoint
// (none: the gateway-wide key), the identity optional for a device (its upstream endpoint name).
int pskAddUpstreamCommand(const Globals& g, const std::string& server, const std::string& endpoint,
                          const std::string& identity, bool identityHex,
                          const std::optional<std::string>& keyHex) {
  if (endpoint.empty() && identity.empty()) {
    throw UsageError(
        "the gateway-wide upstream PSK needs an IDENTITY (give --endpoint EP for a device's key, "
        "whose identity defaults to its upstream endpoint name)");
  }
  const Bytes id = identity.empty() ? Bytes() : identityBytes(identity, identityHex);
  Bytes key = readKey(keyHex);
  Client client(g.bus);
  client.gateway().AddUpstreamPsk(server, endpoint, id, key);
  std::fill(key.begin(), key.end(), 0);
  if (g.json) {
    printJson(Json{{"server", server},
                   {"endpoint", endpoint},
                   {"identity", identity.empty() ? Json(nullptr) : Json(identity)},
                   {"key_set", true}});
  }
  return kExitOk;
}

int pskRemoveCommand(const Globals& g, const std::string& identity, bool identityHex) {
  const Bytes id = identityBytes(identity, identityHex);
  Client client(g.bus);
  client.gateway().RemovePsk(id);
  return kExitOk;
}

int pskListCommand(const Globals& g, const std::string& endpoint, bool upstream) {
  Client client(g.bus);
  if (upstream) {
    std::vector<Dict> psks;
    for (const auto& p : client.gateway().ListUpstreamPsks(endpoint)) psks.push_back(toDict(p));
    return printListing(
        g, psks.size(), [&] { return jsonArray(psks, upstreamPskJson); }, upstreamPskTable(psks),
        "upstream PSK", "upstream PSKs");
  }
  std::vector<Dict> psks;
  for (const auto& p : client.gateway().ListPsks(endpoint)) psks.push_back(toDict(p));
  return printListing(
      g, psks.size(), [&] { return jsonArray(psks, pskJson); }, pskTable(psks), "PSK", "PSKs");
}

int cancelCommand(const Globals& g, std::uint64_t id) {
  Client client(g.bus);
  client.gateway().CancelRequest(id);
  if (g.json) printJson(requestJson(client.request(id)));
  return kExitOk;
}

int backupCommand(const Globals& g, const std::string& file, double timeoutSeconds) {
  const std::string path = std::filesystem::absolute(file).lexically_normal().string();
  Client client(g.bus);
  try {
    client.backup(path, std::chrono::seconds(static_cast<std::int64_t>(timeoutSeconds)));
  } catch (const sdbus::Error& e) {
    const std::string& m = e.getMessage();
    if (m.find("Permission denied") == std::string::npos &&
        m.find("Read-only file system") == std::string::npos) {
      throw;
    }
    throw sdbus::Error(e.getName(),
                       m + " (lwgated writes the backup itself, as its own user; under "
                           "the shipped unit only /var/lib/lwgate is writable)");
  }
  if (g.json) {
    printJson(Json{{"path", path}});
  } else {
    std::cout << "backup written to " << path << "\n";
  }
  return kExitOk;
}

int modemCommand(const Globals& g) {
  Client client(g.bus);
  Dict p = client.status();
  if (g.json) {
    printJson(modemJson(p));
  } else {
    std::cout << renderBlock(modemBlock(p));
  }
  return kExitOk;
}

int wakeCommand(const Globals& g, const std::string& endpoint, bool force) {
  Client client(g.bus);
  VariantMap options;
  if (force) options["force"] = sdbus::Variant(true);
  const std::uint64_t sms = client.gateway().Wake(endpoint, options);
  if (g.json) {
    printJson(Json{{"endpoint", endpoint}, {"sms", sms}});
  } else if (g.legend()) {
    std::cout << "trigger SMS " << sms << " queued for " << sanitize(endpoint)
              << " (lwgatectl sms log " << sanitize(endpoint) << " shows how it went)" << std::endl;
  } else {
    std::cout << sms << std::endl;
  }
  return kExitOk;
}

int smsLogCommand(const Globals& g, const std::string& endpoint, const std::string& direction,
                  std::optional<std::uint32_t> limit, std::optional<std::uint64_t> after) {
  Client client(g.bus);
  VariantMap options = pageFilter(limit, after);
  if (!endpoint.empty()) options["endpoint"] = sdbus::Variant(endpoint);
  if (!direction.empty()) options["direction"] = sdbus::Variant(direction);
  auto rows = client.sms(options);
  return printListing(
      g, rows.size(), [&] { return jsonArray(rows, smsJson); }, smsTable(rows), "SMS", "SMS");
}

int monitorCommand(const Globals& g) {
  Client client(g.bus);
  client.subscribe(Client::Signals::kAll, [&](const Event& e) {
    if (g.json) {
      printJson(eventJson(e, nowMs()));
    } else {
      std::cout << eventLine(e, nowMs()) << std::endl;
    }
  });
  if (g.legend()) {
    // On stderr, so stdout stays one event per line; tests wait for this line too.
    std::cerr << "Monitoring " << kBusName << " on the " << g.bus << " bus. Press Ctrl-C to stop."
              << std::endl;
  }
  client.runUntil([] { return false; }, std::nullopt);
  return kExitOk;
}

// --- the command line ---

std::string examples(std::initializer_list<const char*> lines) {
  std::string out = "Examples:\n";
  for (const char* line : lines) out += std::string("  ") + line + "\n";
  return out;
}

void addSubmitOptions(CLI::App* sub, SubmitArgs& s) {
  sub->add_option("--ttl", s.ttl,
                  "Seconds until the request expires unless done (default: [queue] request_ttl)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--idempotency-key", s.idempotencyKey,
                  "Submitting again with the same key for the same device returns the first "
                  "request's id instead of queueing another");
  sub->add_option("--format", s.format,
                  "Content format to ask for (read, observe) or to encode in (write, create): "
                  "text, opaque, tlv, senml-json, senml-cbor, lwm2m-json, lwm2m-cbor or a CoAP "
                  "Content-Format number");
  sub->add_flag("--urgent", s.urgent,
                "Wake a sleeping device by SMS now, even when its next regular Update would come "
                "in time (the SMS back-off and budgets still apply)");
  sub->add_flag("--wait", s.wait,
                "Wait for the device's answer and print it (progress on a terminal)");
  sub->add_option("--timeout", s.timeout, "With --wait: give up after this many seconds (exit 6)")
      ->check(CLI::PositiveNumber);
}

std::string valueTypeHelp() {
  return "Value type: integer, unsigned, float, boolean (true/false/1/0), string, opaque (hex "
         "like 00ff, or base64:AP8=), time (Unix seconds or RFC 3339), objlnk (O:I). Default: "
         "a string, which the daemon converts for the OMA core objects 0-7";
}

}  // namespace

int run(int argc, char** argv) {
  Globals g;
  if (const char* env = std::getenv("LWGATE_BUS"); env && *env) g.bus = env;

  CLI::App app{"lwgatectl: control lwgated, the LwM2M gateway, over D-Bus (org.lwgate.Gateway1)",
               "lwgatectl"};
  app.require_subcommand(1);
  // Global options are accepted before and after the verb.
  app.fallthrough();
  app.set_version_flag("--version", std::string("lwgatectl ") + kVersion);
  app.add_option("--bus", g.bus,
                 "The bus lwgated is on: system, session, or a D-Bus address "
                 "(unix:path=/run/dbus/system_bus_socket); default $LWGATE_BUS, else system")
      ->capture_default_str();
  app.add_flag("--json", g.json, "Machine-readable output: one JSON document per line");
  app.add_flag("--no-legend", g.noLegend, "Omit table headers, footers and summary lines");
  app.footer(
      "Run 'lwgatectl VERB --help' for a verb's options and examples; man lwgatectl for the "
      "JSON keys.\n\n" +
      exitCodeHelp());

  std::function<int()> action;
  auto verb = [&](const char* name, const char* description, std::string footer) {
    CLI::App* sub = app.add_subcommand(name, description);
    sub->footer(std::move(footer));
    return sub;
  };

  std::string endpoint, path, typeName, state;
  std::vector<std::string> values;
  bool partial = false, wait = false;
  std::optional<std::uint16_t> instance;
  std::optional<std::uint32_t> pmin, pmax, limit;
  std::optional<std::uint64_t> after;
  std::optional<double> timeout;
  std::uint64_t id = 0;
  SubmitArgs s;

  auto* status = verb("status", "Show the daemon's state: version, uptime, devices, queues",
                      examples({"lwgatectl status", "lwgatectl status --json"}));
  status->callback([&] { action = [&] { return statusCommand(g); }; });

  auto* list = verb("list", "List registered devices",
                    examples({"lwgatectl list", "lwgatectl list --no-legend | cut -d' ' -f1",
                              "lwgatectl list --json | jq -r '.[] | select(.awake) | .endpoint'"}));
  list->callback([&] { action = [&] { return listCommand(g); }; });

  auto* show = verb("show", "Show one device's registration",
                    examples({"lwgatectl show sensor-17", "lwgatectl show sensor-17 --json"}));
  show->add_option("endpoint", endpoint, "Endpoint client name")->required();
  show->callback([&] { action = [&] { return showCommand(g, endpoint); }; });

  auto* upstream =
      verb("upstream",
           "List the bridge's upstream servers and their health, or ENDPOINT's upstream "
           "registrations",
           examples({"lwgatectl upstream", "lwgatectl upstream sensor-17",
                     "lwgatectl upstream --json"}));
  upstream->add_option("endpoint", endpoint, "Endpoint client name (its registrations)");
  upstream->callback([&] { action = [&] { return upstreamCommand(g, endpoint); }; });

  auto* read = verb("read", "Read an object, instance or resource (TS Core 6.3.1)",
                    examples({"lwgatectl read sensor-17 /3/0 --wait",
                              "lwgatectl read sensor-17 /3/0/9 --wait --timeout 120 --json",
                              "lwgatectl read sensor-17 /3/0 --format senml-json"}));
  read->add_option("endpoint", endpoint, "Endpoint client name")->required();
  read->add_option("path", path, "LwM2M path: /O, /O/I, /O/I/R or /O/I/R/RI")->required();
  addSubmitOptions(read, s);
  read->callback([&] {
    action = [&] {
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().Read(endpoint, path, o);
      });
    };
  });

  auto* write = verb(
      "write",
      "Write a resource (PATH VALUE) or an object instance (PATH RID=VALUE...) (TS Core 6.3.3)",
      examples({"lwgatectl write sensor-17 /1/0/1 300 --wait",
                "lwgatectl write sensor-17 /3/0/13 2024-05-01T12:00:00Z --type time",
                "lwgatectl write sensor-17 /5/0/0 base64:AAEC --type opaque",
                "lwgatectl write sensor-17 /1/0 1=300 2:integer=10 --partial",
                "lwgatectl write sensor-17 /1000/0/1 -5 --type integer",
                "lwgatectl write sensor-17 /1000/0/0 --type string -- -starts-with-dash"}));
  write->add_option("endpoint", endpoint, "Endpoint client name")->required();
  write->add_option("path", path, "/O/I/R or /O/I/R/RI with one VALUE; /O/I with RID=VALUE...")
      ->required();
  write
      ->add_option("values", values,
                   "VALUE, or RID=VALUE / RID:TYPE=VALUE pairs for an instance (RID like 1 or "
                   "7/0)")
      ->required();
  write->add_option("--type", typeName, valueTypeHelp())->check(CLI::IsMember(valueTypeNames()));
  write->add_flag("--partial", partial, "Partial update (POST) instead of replace (PUT)");
  addSubmitOptions(write, s);
  write->callback([&] {
    action = [&] {
      ValueType type = typeName.empty() ? ValueType::kAuto : orUsage(parseValueType(typeName));
      sdbus::Variant value;
      if (pathDepth(path) == 2) {
        value = sdbus::Variant(assignments(values, type));
      } else if (values.size() == 1) {
        value = toVariant(orUsage(parseValue(values[0], type)));
      } else {
        throw UsageError(
            "write takes one VALUE for a resource path, or RID=VALUE pairs for an "
            "instance path /O/I");
      }
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        VariantMap options = o;
        if (partial) options["partial"] = sdbus::Variant(true);
        return c.gateway().Write(endpoint, path, value, options);
      });
    };
  });

  auto* exec = verb("exec", "Execute a resource (TS Core 6.3.5)",
                    examples({"lwgatectl exec sensor-17 /3/0/4 --wait",
                              "lwgatectl exec sensor-17 /5/0/2 \"0='fw.bin',1\""}));
  exec->add_option("endpoint", endpoint, "Endpoint client name")->required();
  exec->add_option("path", path, "/O/I/R")->required();
  exec->add_option("arguments", values,
                   "Arguments in the TS Core 5.4.5 grammar (0='v',1); several words are joined "
                   "with ','");
  addSubmitOptions(exec, s);
  exec->callback([&] {
    action = [&] {
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().Execute(endpoint, path, joinExecuteArguments(values), o);
      });
    };
  });

  auto* create = verb("create", "Create an object instance (TS Core 6.3.6)",
                      examples({"lwgatectl create sensor-17 /1000 0=hello 1:integer=5",
                                "lwgatectl create sensor-17 /1000 0=hello --instance 3 --wait"}));
  create->add_option("endpoint", endpoint, "Endpoint client name")->required();
  create->add_option("path", path, "/O")->required();
  create->add_option("values", values, "Resource values RID=VALUE or RID:TYPE=VALUE");
  create->add_option("--type", typeName, valueTypeHelp() + " (for every value without its own)")
      ->check(CLI::IsMember(valueTypeNames()));
  create->add_option("--instance", instance, "The new instance id (else the device picks one)");
  addSubmitOptions(create, s);
  create->callback([&] {
    action = [&] {
      ValueType type = typeName.empty() ? ValueType::kAuto : orUsage(parseValueType(typeName));
      VariantMap resources = assignments(values, type);
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        VariantMap options = o;
        if (instance) options["instance"] = sdbus::Variant(*instance);
        return c.gateway().Create(endpoint, path, resources, options);
      });
    };
  });

  auto* del = verb("delete", "Delete an object instance (TS Core 6.3.7)",
                   examples({"lwgatectl delete sensor-17 /1000/3 --wait"}));
  del->add_option("endpoint", endpoint, "Endpoint client name")->required();
  del->add_option("path", path, "/O/I")->required();
  addSubmitOptions(del, s);
  del->callback([&] {
    action = [&] {
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().Delete(endpoint, path, o);
      });
    };
  });

  auto* discover = verb("discover", "Discover attributes and resources (TS Core 6.3.2)",
                        examples({"lwgatectl discover sensor-17 /3 --wait"}));
  discover->add_option("endpoint", endpoint, "Endpoint client name")->required();
  discover->add_option("path", path, "/O, /O/I or /O/I/R")->required();
  addSubmitOptions(discover, s);
  discover->callback([&] {
    action = [&] {
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().Discover(endpoint, path, o);
      });
    };
  });

  auto* attrs = verb("attrs", "Write notification attributes (Write-Attributes, TS Core 6.3.4)",
                     examples({"lwgatectl attrs sensor-17 /3303/0/5700 pmin=10 pmax=60 gt=25.5",
                               "lwgatectl attrs sensor-17 /3303/0/5700 gt=   # removes gt"}));
  attrs->add_option("endpoint", endpoint, "Endpoint client name")->required();
  attrs->add_option("path", path, "/O, /O/I or /O/I/R")->required();
  attrs
      ->add_option("attributes", values,
                   "NAME=VALUE: pmin, pmax, epmin, epmax, edge, con, hqmax (unsigned), gt, lt, "
                   "st (float); NAME= removes it")
      ->required();
  addSubmitOptions(attrs, s);
  attrs->callback([&] {
    action = [&] {
      VariantMap a = attributes(values);
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().WriteAttributes(endpoint, path, a, o);
      });
    };
  });

  auto* observe =
      verb("observe",
           "Observe a path (TS Core 6.4.1): the first value now, then notifications (lwgatectl "
           "notifications EP, lwgatectl monitor)",
           examples({"lwgatectl observe sensor-17 /3303/0/5700 --pmin 10 --pmax 60 --wait",
                     "lwgatectl observe sensor-17 /3303/0/5700 gt=30 lt=5",
                     "lwgatectl notifications sensor-17"}));
  observe->add_option("endpoint", endpoint, "Endpoint client name")->required();
  observe->add_option("path", path, "/O, /O/I or /O/I/R")->required();
  observe->add_option("attributes", values,
                      "Notification attributes sent with the Observe, NAME=VALUE as for attrs");
  observe->add_option("--pmin", pmin, "Minimum period in seconds (same as pmin=N)");
  observe->add_option("--pmax", pmax, "Maximum period in seconds (same as pmax=N)");
  addSubmitOptions(observe, s);
  observe->callback([&] {
    action = [&] {
      VariantMap a = attributes(values);
      if (pmin) a["pmin"] = sdbus::Variant(*pmin);
      if (pmax) a["pmax"] = sdbus::Variant(*pmax);
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        VariantMap options = o;
        if (!a.empty()) options["attributes"] = sdbus::Variant(a);
        return c.gateway().Observe(endpoint, path, options);
      });
    };
  });

  auto* cancelObserve = verb("cancel-observe", "Cancel an observation (TS Core 6.4.2)",
                             examples({"lwgatectl cancel-observe sensor-17 /3303/0/5700"}));
  cancelObserve->add_option("endpoint", endpoint, "Endpoint client name")->required();
  cancelObserve->add_option("path", path, "The observed path")->required();
  addSubmitOptions(cancelObserve, s);
  cancelObserve->callback([&] {
    action = [&] {
      return submitCommand(g, s, [&](Client& c, const VariantMap& o) {
        return c.gateway().CancelObserve(endpoint, path, o);
      });
    };
  });

  auto* requests = verb("requests", "List downlink requests, oldest first",
                        examples({"lwgatectl requests",
                                  "lwgatectl requests sensor-17 --state "
                                  "unfinished",
                                  "lwgatectl requests --state failed --limit 20 --json"}));
  requests->add_option("endpoint", endpoint, "Only this device's requests");
  requests->add_option("--state", state,
                       "queued, in_flight, done, failed, expired, cancelled or unfinished");
  requests->add_option("--limit", limit, "At most this many (default 100, at most 10000)");
  requests->add_option("--after", after, "Only ids above this one (paging)");
  requests->callback(
      [&] { action = [&] { return requestsCommand(g, endpoint, state, limit, after); }; });

  auto* request = verb("request", "Show one request and its result",
                       examples({"lwgatectl request 42", "lwgatectl request 42 --wait --json"}));
  request->add_option("id", id, "Request id")->required();
  request->add_flag("--wait", wait, "Wait until the request is final");
  request->add_option("--timeout", timeout, "With --wait: give up after this many seconds")
      ->check(CLI::PositiveNumber);
  request->callback([&] { action = [&] { return requestCommand(g, id, wait, timeout); }; });

  std::string backupFile;
  double backupTimeout = 600;
  auto* backup = verb(
      "backup",
      "Have lwgated write a consistent copy of its database to FILE (a new, absolute path; "
      "lwgated writes it, so under the shipped unit it must be under /var/lib/lwgate)",
      examples({"lwgatectl backup /var/lib/lwgate/before-upgrade.db",
                "lwgated --restore /var/lib/lwgate/before-upgrade.db   (with lwgated stopped)"}));
  backup->add_option("file", backupFile, "The file to write (must not exist)")->required();
  backup->add_option("--timeout", backupTimeout, "Seconds to wait for the copy (default 600)")
      ->check(CLI::Range(1.0, 86400.0));
  backup->callback([&] { action = [&] { return backupCommand(g, backupFile, backupTimeout); }; });
  auto* cancel = verb("cancel", "Cancel a queued request (not one in flight)",
                      examples({"lwgatectl cancel 42"}));
  cancel->add_option("id", id, "Request id")->required();
  cancel->callback([&] { action = [&] { return cancelCommand(g, id); }; });

  auto* observations =
      verb("observations", "List active observations (every device's, or one device's)",
           examples({"lwgatectl observations", "lwgatectl observations sensor-17 --json"}));
  observations->add_option("endpoint", endpoint, "Only this device's observations");
  observations->callback([&] { action = [&] { return observationsCommand(g, endpoint); }; });

  auto* notifications =
      verb("notifications", "List a device's stored notifications, oldest first",
           examples({"lwgatectl notifications sensor-17",
                     "lwgatectl notifications sensor-17 --after 120 --limit 10 --json"}));
  notifications->add_option("endpoint", endpoint, "Endpoint client name")->required();
  notifications->add_option("--limit", limit, "At most this many (default 100, at most 10000)");
  notifications->add_option("--after", after, "Only ids above this one (paging)");
  notifications->callback(
      [&] { action = [&] { return notificationsCommand(g, endpoint, limit, after); }; });

  auto* forget = verb(
      "forget-observation",
      "End an observation without asking the device (its next notification "
      "gets a Reset); works while it sleeps",
      examples({"lwgatectl observations sensor-17   # the ID", "lwgatectl forget-observation 3"}));
  forget->add_option("id", id, "Observation id (lwgatectl observations)")->required();
  forget->callback([&] { action = [&] { return forgetCommand(g, id); }; });

  auto* settings = verb(
      "settings", "Show or change a device's settings (kept across re-registrations and restarts)",
      examples({"lwgatectl settings sensor-17",
                "lwgatectl settings sensor-17 awake_window=30 sms_number=+4915112345678",
                "lwgatectl settings sensor-17 sms_number=   # clears it"}));
  settings->add_option("endpoint", endpoint, "Endpoint client name")->required();
  settings->add_option("changes", values,
                       "NAME=VALUE: awake_window (seconds), sms_number (MSISDN), "
                       "server_instance (/1/x of this gateway); NAME= clears it");
  settings->callback([&] { action = [&] { return settingsCommand(g, endpoint, values); }; });

  std::string identity;
  bool identityHex = false;
  std::optional<std::string> keyHex;
  std::optional<std::string> upstreamServer;
  std::string upstreamEndpoint;
  bool upstreamList = false;
  auto* psk = verb(
      "psk",
      "Manage DTLS pre-shared keys: of devices that use coaps, and (--upstream) the bridge's "
      "towards coaps:// upstream servers: add, remove, list (keys are never shown)",
      examples({"lwgatectl psk add sensor-17 sensor-17 --key-hex "
                "000102030405060708090a0b0c0d0e0f",
                "lwgatectl psk add id-17 sensor-17 < key.hex   # key from stdin",
                "lwgatectl psk list", "lwgatectl psk remove id-17",
                "lwgatectl psk add --upstream coaps://lwm2m.example.net --endpoint sensor-17 "
                "< key.hex   # identity: its upstream endpoint name",
                "lwgatectl psk add --upstream coaps://lwm2m.example.net site-7 < key.hex   # "
                "psk = \"gateway\"",
                "lwgatectl psk list --upstream",
                "lwgatectl psk remove --upstream coaps://lwm2m.example.net --endpoint sensor-17"}));
  psk->require_subcommand(1);
  auto* pskAdd = psk->add_subcommand(
      "add",
      "Store a PSK identity, its key and the one endpoint name it may register as (replaces the "
      "key and endpoint of an identity that exists); with --upstream, the key the bridge uses "
      "towards that coaps:// server for --endpoint's device, or for the whole gateway");
  pskAdd->add_option("identity", identity,
                     "PSK identity (text; hex with --identity-hex); with --upstream and "
                     "--endpoint it defaults to the device's upstream endpoint name");
  pskAdd->add_option("endpoint", endpoint, "The endpoint name the identity may register as");
  pskAdd->add_option("--key-hex", keyHex,
                     "The key in hex (else the first line of standard input, not echoed on a "
                     "terminal)");
  pskAdd->add_flag("--identity-hex", identityHex, "IDENTITY is hex (a binary identity)");
  pskAdd->add_option("--upstream", upstreamServer,
                     "A key for this coaps:// [[upstream]] server (its uri as configured)");
  pskAdd->add_option("--endpoint", upstreamEndpoint,
                     "With --upstream: the bridged device the key is for (psk = \"device\"); "
                     "without it, the gateway-wide key (psk = \"gateway\")");
  pskAdd->callback([&] {
    if (upstreamServer) {
      if (!endpoint.empty()) {
        throw UsageError("with --upstream, name the device with --endpoint EP");
      }
      action = [&] {
        return pskAddUpstreamCommand(g, *upstreamServer, upstreamEndpoint, identity, identityHex,
                                     keyHex);
      };
      return;
    }
    if (!upstreamEndpoint.empty()) throw UsageError("--endpoint goes with --upstream");
    if (identity.empty() || endpoint.empty()) {
      throw UsageError("psk add needs IDENTITY and ENDPOINT (or --upstream SERVER)");
    }
    action = [&] { return pskAddCommand(g, identity, identityHex, endpoint, keyHex); };
  });
  auto* pskRemove = psk->add_subcommand(
      "remove", "Remove a PSK identity; with --upstream, the bridge's key for a server");
  pskRemove->add_option("identity", identity, "PSK identity (text; hex with --identity-hex)");
  pskRemove->add_flag("--identity-hex", identityHex, "IDENTITY is hex (a binary identity)");
  pskRemove->add_option("--upstream", upstreamServer, "The upstream server's key");
  pskRemove->add_option("--endpoint", upstreamEndpoint,
                        "With --upstream: the device's key (none: the gateway-wide one)");
  pskRemove->callback([&] {
    if (upstreamServer) {
      if (!identity.empty()) {
        throw UsageError(
            "with --upstream, give --endpoint EP (or nothing for the gateway-wide "
            "key), not an identity");
      }
      action = [&] {
        Client client(g.bus);
        client.gateway().RemoveUpstreamPsk(*upstreamServer, upstreamEndpoint);
        return kExitOk;
      };
      return;
    }
    if (!upstreamEndpoint.empty()) throw UsageError("--endpoint goes with --upstream");
    if (identity.empty()) throw UsageError("psk remove needs IDENTITY (or --upstream SERVER)");
    action = [&] { return pskRemoveCommand(g, identity, identityHex); };
  });
  auto* pskList = psk->add_subcommand(
      "list",
      "List PSK identities: IDENTITY ENDPOINT KEY UPDATED; with --upstream the bridge's keys: "
      "SERVER ENDPOINT IDENTITY KEY UPDATED");
  pskList->add_option("endpoint", endpoint,
                      "Only this endpoint's (with --upstream: this server's)");
  pskList->add_flag("--upstream", upstreamList, "The bridge's keys for coaps:// upstream servers");
  pskList->callback([&] { action = [&] { return pskListCommand(g, endpoint, upstreamList); }; });

  auto* modem =
      verb("modem", "Show the modem's health: state, SIM, network, signal, model, last error",
           examples({"lwgatectl modem", "lwgatectl modem --json"}));
  modem->callback([&] { action = [&] { return modemCommand(g); }; });

  bool force = false;
  auto* wake =
      verb("wake",
           "Send a device a Registration Update Trigger SMS now (CoAP POST /1/x/8), so it sends an "
           "Update and its queue drains",
           examples({"lwgatectl wake sensor-17", "lwgatectl wake sensor-17 --force",
                     "lwgatectl sms log sensor-17"}));
  wake->add_option("endpoint", endpoint, "Endpoint client name")->required();
  wake->add_flag("--force", force,
                 "Send even within the [sms] back-off or over a budget (it is still logged and "
                 "counted)");
  wake->callback([&] { action = [&] { return wakeCommand(g, endpoint, force); }; });

  std::string direction;
  auto* sms = verb("sms", "SMS: the log of what was sent and received",
                   examples({"lwgatectl sms log", "lwgatectl sms log sensor-17 --limit 10"}));
  sms->require_subcommand(1);
  auto* smsLog = sms->add_subcommand(
      "log", "List the SMS log, oldest first: the newest --limit rows, or those after --after");
  smsLog->footer(examples({"lwgatectl sms log", "lwgatectl sms log sensor-17 --limit 10",
                           "lwgatectl sms log --direction in --json",
                           "lwgatectl sms log --after 120   # the rows after id 120"}));
  smsLog->add_option("endpoint", endpoint, "Only this device's SMS");
  smsLog->add_option("--limit", limit, "At most this many (default 100, at most 10000)");
  smsLog->add_option("--after", after, "Only ids above this one (paging, following)");
  smsLog->add_option("--direction", direction, "in or out")->check(CLI::IsMember({"in", "out"}));
  smsLog->callback(
      [&] { action = [&] { return smsLogCommand(g, endpoint, direction, limit, after); }; });

  auto* monitor =
      verb("monitor", "Print the daemon's signals as they come (requests, devices) until Ctrl-C",
           examples({"lwgatectl monitor", "lwgatectl monitor --json | jq ."}));
  monitor->callback([&] { action = [&] { return monitorCommand(g); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!action) return kExitUsage;
  try {
    return action();
  } catch (const UsageError& e) {
    std::cerr << "lwgatectl: " << e.what() << std::endl;
    return kExitUsage;
  } catch (const sdbus::Error& e) {
    ExitCode code = exitCodeForError(e.getName());
    std::string message = e.getMessage().empty() ? e.getName() : e.getMessage();
    const std::string& name = e.getName();
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" ||
        name == "org.freedesktop.DBus.Error.NameHasNoOwner") {
      std::string which =
          g.bus == "system" || g.bus == "session" ? "the " + g.bus + " bus" : "bus " + g.bus;
      message = "lwgated is not running on " + which + " (" + message + ")";
    } else if (name == "org.freedesktop.DBus.Error.AccessDenied") {
      // The bus policy's own text names rules and uids; say what to do instead.
      message =
          "permission denied: this needs root or membership in group lwgate (usermod -a -G "
          "lwgate USER, then log in again)";
    }
    std::cerr << "lwgatectl: " << sanitize(message) << std::endl;
    return code;
  }
}

}  // namespace lwgate::cli
