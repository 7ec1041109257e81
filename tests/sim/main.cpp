// lwgate-sim: runs a list of LwM2M registration actions against a server and prints one line
// per action, so shell-driven end-to-end tests can check each answer. Between and during its
// own requests it answers the server's Read/Discover/Write/Execute/Observe, one "request ..."
// line each, and sends the notifications that are due ("notify ..." lines), except while
// asleep. Every Execute prints "EXECUTED PATH count=N ..." (and appends it to --journal).
// Exit codes (only the sim's own requests count): 0 every action got a 2.xx, 1 some action got
// a CoAP error response, 2 transport failure or bad arguments.
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

#include "tests/sim/device.h"

namespace lwgate::sim {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitErrorResponse = 1;
constexpr int kExitFailure = 2;
// A test tool must never hang a test run; an hour is far beyond any sensible scenario.
constexpr double kMaxWaitSeconds = 3600.0;

struct RegisterAction {};
struct UpdateAction {
  std::optional<std::uint32_t> lifetime;
};
struct DeregisterAction {};
// wait= and awake= both serve the server for a while; awake= names the queue-mode window
// after an update, wait= the pause of a plain scenario. sleep= serves nothing.
struct WaitAction {
  std::string verb;
  double seconds = 0;
};
struct SleepAction {
  double seconds = 0;
};
// notify=PATH changes a numeric resource now; stale=PATH sends a reordered notification of the
// observation of PATH; rogue sends a notification on a token the server never made.
struct NotifyAction {
  std::string path;
};
struct StaleAction {
  std::string path;
  bool malformed = false;  // malformed=PATH: a fresh one whose payload does not decode
};
struct RogueAction {};
// send=PATH[,PATH...]: an LwM2M 1.1 Send (POST /dp) of the current values in SenML JSON;
// send-raw=FORMAT:HEX: POST /dp with Content-Format FORMAT ("none" leaves it out) and the payload
// in hex (may be empty), for the server's refusals.
struct SendAction {
  std::vector<std::string> paths;
};
struct SendRawAction {
  std::optional<unsigned> format;
  std::string payload;
};
// stdin: reads further actions from standard input, one per line, serving the server between
// them, until end of file: a test can drive a running device step by step.
struct StdinAction {};
using Action =
    std::variant<RegisterAction, UpdateAction, DeregisterAction, WaitAction, SleepAction,
                 NotifyAction, StaleAction, RogueAction, SendAction, SendRawAction, StdinAction>;

std::optional<std::vector<std::uint8_t>> parseHex(const std::string& hex);

std::optional<double> parseSeconds(const std::string& number) {
  try {
    std::size_t used = 0;
    double seconds = std::stod(number, &used);
    if (used != number.size() || !(seconds >= 0.0 && seconds <= kMaxWaitSeconds)) {
      return std::nullopt;
    }
    return seconds;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<Action> parseAction(const std::string& text) {
  if (text == "register") return RegisterAction{};
  if (text == "update") return UpdateAction{};
  if (text == "deregister") return DeregisterAction{};
  if (text == "rogue") return RogueAction{};
  if (text == "stdin") return StdinAction{};
  for (const char* verb : {"notify=", "stale=", "malformed="}) {
    const std::string prefix = verb;
    if (text.rfind(prefix, 0) != 0 || text.size() == prefix.size() || text[prefix.size()] != '/') {
      continue;
    }
    if (prefix == "notify=") return NotifyAction{text.substr(prefix.size())};
    return StaleAction{text.substr(prefix.size()), prefix == "malformed="};
  }
  if (text.rfind("send=/", 0) == 0) {
    SendAction send;
    std::string rest = text.substr(5);
    for (std::size_t at = 0; at <= rest.size();) {
      std::size_t comma = rest.find(',', at);
      if (comma == std::string::npos) comma = rest.size();
      std::string path = rest.substr(at, comma - at);
      if (path.empty() || path[0] != '/') return std::nullopt;
      send.paths.push_back(std::move(path));
      at = comma + 1;
    }
    return send;
  }
  const std::string rawPrefix = "send-raw=";
  if (text.rfind(rawPrefix, 0) == 0) {
    const std::string rest = text.substr(rawPrefix.size());
    const std::size_t colon = rest.find(':');
    if (colon == std::string::npos) return std::nullopt;
    const std::string format = rest.substr(0, colon);
    SendRawAction raw;
    if (format != "none") {
      unsigned number = 0;
      auto [end, ec] = std::from_chars(format.data(), format.data() + format.size(), number);
      if (ec != std::errc() || end != format.data() + format.size() || format.empty() ||
          number > 65535) {
        return std::nullopt;
      }
      raw.format = number;
    }
    auto bytes = parseHex(rest.substr(colon + 1));
    if (!bytes) return std::nullopt;
    raw.payload.assign(bytes->begin(), bytes->end());
    return raw;
  }
  const std::string ltPrefix = "update-lt=";
  if (text.rfind(ltPrefix, 0) == 0) {
    std::uint32_t lt = 0;
    const char* first = text.data() + ltPrefix.size();
    const char* last = text.data() + text.size();
    auto [end, ec] = std::from_chars(first, last, lt);
    if (ec != std::errc() || end != last || first == last) return std::nullopt;
    return UpdateAction{lt};
  }
  std::size_t equals = text.find('=');
  if (equals == std::string::npos) return std::nullopt;
  std::string verb = text.substr(0, equals);
  if (verb != "wait" && verb != "awake" && verb != "sleep") return std::nullopt;
  auto seconds = parseSeconds(text.substr(equals + 1));
  if (!seconds) return std::nullopt;
  if (verb == "sleep") return SleepAction{*seconds};
  return WaitAction{verb, *seconds};
}

// Diagnostic payloads are peer-controlled text; escape them so one action stays one line.
std::string quote(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

void printLine(const std::string& line) {
  std::cout << line << '\n' << std::flush;  // flush: tests read lines while we still run
}

// Uri-Path segments are peer-controlled: keep printable ASCII, escape the rest.
std::string pathForLog(const std::vector<std::string>& segments) {
  if (segments.empty()) return "/";
  std::string out;
  for (const auto& segment : segments) {
    out += '/';
    for (unsigned char c : segment) {
      if (c <= 0x20 || c >= 0x7f || c == '\\') {
        char hex[5];
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        out += hex;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  return out;
}

// "request GET /3/0/9 accept=11542 -> 2.05"; accept=, ct=, observe= and the query appear when
// the request had them, observe= after the code when the answer carried one.
void printRequest(const ServerRequest& request, const ServerReply& reply) {
  std::string line =
      std::string("request ") + methodName(request.method) + " " + pathForLog(request.path);
  if (request.accept) line += " accept=" + std::to_string(*request.accept);
  if (request.contentFormat) line += " ct=" + std::to_string(*request.contentFormat);
  if (request.observe) line += " observe=" + std::to_string(*request.observe);
  for (const auto& q : request.query) line += " ?" + quote(q);
  line += " -> " + codeText(reply.code);
  if (reply.observe) line += " observe=" + std::to_string(*reply.observe);
  printLine(line);
}

// Executes per path, continued from the journal of earlier runs, so a test can prove across
// restarts of the sim (and of lwgated) that no Execute ran twice.
class ExecutionJournal {
 public:
  explicit ExecutionJournal(std::string path) : path_(std::move(path)) {
    if (path_.empty()) return;
    std::ifstream in(path_);
    std::string word, target, count;
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      if (fields >> word >> target >> count && word == "EXECUTED" &&
          count.rfind("count=", 0) == 0) {
        ++counts_[target];
      }
    }
  }
  // "EXECUTED /3/0/4 count=N mid=M token=HEX": printed, and appended to the journal file with
  // one write(2), which survives a kill -9 of the sim.
  void record(const std::string& path, const ServerRequest& request) {
    std::string token;
    for (unsigned char c : request.token) {
      char hex[3];
      std::snprintf(hex, sizeof hex, "%02x", c);
      token += hex;
    }
    const std::string line = "EXECUTED " + path + " count=" + std::to_string(++counts_[path]) +
                             " mid=" + std::to_string(request.mid) + " token=" + token;
    printLine(line);
    if (path_.empty()) return;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::cerr << "lwgate-sim: cannot append to " << path_ << "\n";
      return;
    }
    const std::string text = line + "\n";
    if (::write(fd, text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
      std::cerr << "lwgate-sim: short write to " << path_ << "\n";
    }
    ::close(fd);
  }

 private:
  std::string path_;
  std::map<std::string, unsigned> counts_;
};

std::optional<std::vector<std::uint8_t>> parseHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (std::size_t k = 0; k < hex.size(); k += 2) {
    unsigned byte = 0;
    auto [end, ec] = std::from_chars(hex.data() + k, hex.data() + k + 2, byte, 16);
    if (ec != std::errc() || end != hex.data() + k + 2) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(byte));
  }
  return out;
}

std::chrono::milliseconds toMilliseconds(double seconds) {
  return std::chrono::milliseconds(static_cast<long long>(seconds * 1000.0));
}

// Prints the action's line and returns its exit-code contribution.
int report(const std::string& verb, const Result<Response>& result, const SimDevice& device) {
  if (!result) {
    const std::string& message = result.error().message;
    bool timeout = message.rfind("timeout", 0) == 0;
    printLine(verb + (timeout ? " timeout" : " failed") + " reason=" + quote(message));
    return kExitFailure;
  }
  const Response& response = *result;
  std::string line = verb + " " + response.codeText();
  if (verb == "register" && response.code == COAP_RESPONSE_CODE(201)) {
    line += " location=" + device.locationId();
  }
  if (!response.payload.empty()) line += " payload=" + quote(response.payload);
  printLine(line);
  if (verb == "register" && response.code == COAP_RESPONSE_CODE(201) &&
      response.locationPath.empty()) {
    std::cerr << "lwgate-sim: 2.01 without Location-Path (LwM2M 1.1 TS Core 6.2.1)\n";
    return kExitErrorResponse;
  }
  return response.success() ? kExitOk : kExitErrorResponse;
}

int perform(const Action& action, SimDevice& device);

// Reads actions from stdin, one per line, serving the server between them, until end of file.
// A malformed line is reported and skipped; a transport failure ends the loop like it ends the
// command-line list.
int performFromStdin(SimDevice& device) {
  std::string buffer;
  int exitCode = kExitOk;
  for (;;) {
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&in, 1, 0);
    if (ready > 0) {
      char chunk[512];
      const ssize_t n = ::read(STDIN_FILENO, chunk, sizeof chunk);
      if (n <= 0) break;  // end of file (or an error): the driver is done
      buffer.append(chunk, static_cast<std::size_t>(n));
      std::size_t newline;
      while ((newline = buffer.find('\n')) != std::string::npos) {
        std::string line = buffer.substr(0, newline);
        buffer.erase(0, newline + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty()) continue;
        auto action = parseAction(line);
        if (!action || std::holds_alternative<StdinAction>(*action)) {
          printLine("stdin bad-action " + quote(line));
          continue;
        }
        const int rc = perform(*action, device);
        exitCode = std::max(exitCode, rc);
        if (rc == kExitFailure) return rc;
      }
      continue;
    }
    if (auto served = device.runFor(std::chrono::milliseconds(20)); !served) {
      printLine("stdin failed reason=" + quote(served.error().message));
      return kExitFailure;
    }
  }
  printLine("stdin eof");
  return exitCode;
}

int perform(const Action& action, SimDevice& device) {
  int rc = kExitOk;
  if (std::holds_alternative<RegisterAction>(action)) {
    rc = report("register", device.registerDevice(), device);
  } else if (auto* update = std::get_if<UpdateAction>(&action)) {
    rc = report("update", device.update(update->lifetime), device);
  } else if (std::holds_alternative<DeregisterAction>(action)) {
    rc = report("deregister", device.deregister(), device);
  } else if (auto* wait = std::get_if<WaitAction>(&action)) {
    auto ms = toMilliseconds(wait->seconds);
    auto done = device.runFor(ms);
    if (done) {
      printLine(wait->verb + " " + std::to_string(ms.count()) + "ms");
    } else {
      printLine(wait->verb + " failed reason=" + quote(done.error().message));
      rc = kExitFailure;
    }
  } else if (auto* sleep = std::get_if<SleepAction>(&action)) {
    auto ms = toMilliseconds(sleep->seconds);
    auto dropped = device.sleepFor(ms);
    if (dropped) {
      printLine("sleep " + std::to_string(ms.count()) + "ms dropped=" + std::to_string(*dropped));
    } else {
      printLine("sleep failed reason=" + quote(dropped.error().message));
      rc = kExitFailure;
    }
  } else if (auto* notify = std::get_if<NotifyAction>(&action)) {
    auto changed = device.change(notify->path);
    printLine(changed ? "changed " + notify->path
                      : "changed failed reason=" + quote(changed.error().message));
    rc = changed ? kExitOk : kExitErrorResponse;
  } else if (auto* stale = std::get_if<StaleAction>(&action)) {
    const std::string verb = stale->malformed ? "malformed" : "stale";
    auto sent =
        stale->malformed ? device.sendMalformed(stale->path) : device.sendStale(stale->path);
    printLine(sent ? verb + " " + stale->path + " seq=" + std::to_string(*sent)
                   : verb + " failed reason=" + quote(sent.error().message));
    rc = sent ? kExitOk : kExitErrorResponse;
  } else if (std::holds_alternative<RogueAction>(action)) {
    auto rejected = device.sendRogue();
    if (!rejected) {
      printLine("rogue failed reason=" + quote(rejected.error().message));
      rc = kExitFailure;
    } else {
      printLine(*rejected ? "rogue rst" : "rogue no-rst");
    }
  } else if (auto* send = std::get_if<SendAction>(&action)) {
    rc = report("send", device.send(send->paths), device);
  } else if (auto* raw = std::get_if<SendRawAction>(&action)) {
    rc = report("send-raw", device.sendRaw(raw->format, raw->payload), device);
  } else if (std::holds_alternative<StdinAction>(action)) {
    rc = performFromStdin(device);
  }
  return rc;
}

int run(int argc, char** argv) {
  CLI::App app{"lwgate-sim: a simulated LwM2M client for registration tests"};
  DeviceOptions options;
  std::optional<std::uint32_t> lifetime = 300;
  bool noLifetime = false;
  bool verbose = false;
  std::string location;
  std::vector<std::string> actionTexts;
  std::string journalPath;

  app.add_option("--server", options.serverUri,
                 "Server URI, coap://HOST:PORT (NoSec) or coaps://HOST:PORT (DTLS-PSK, with "
                 "--psk-identity and --psk-key)")
      ->required();
  std::string pskKeyHex;
  app.add_option("--psk-identity", options.pskIdentity, "DTLS PSK identity (coaps:// servers)");
  app.add_option("--psk-key", pskKeyHex, "DTLS pre-shared key in hex (coaps:// servers)");
  app.add_option("--ep", options.endpoint, "Endpoint client name (empty omits ep)")->required();
  app.add_option("--lt", lifetime, "Registration lifetime in seconds (default 300)");
  app.add_flag("--no-lt", noLifetime,
               "Omit lt so the server reads /1/x/1 (which holds --lt if given, else 86400)");
  app.add_option("--lwm2m", options.lwm2mVersion, "LwM2M version (empty omits it)")
      ->capture_default_str();
  app.add_option("--binding", options.binding, "Binding mode (empty omits b)")
      ->capture_default_str();
  app.add_flag("--queue", options.queueMode, "Register in queue mode (Q)");
  app.add_option("--sms", options.smsNumber, "MSISDN for the sms parameter");
  app.add_option("--objects", options.objects, "Link-format payload (empty sends none)")
      ->capture_default_str();
  // allow_extra_args(false): each --query takes exactly one value, so it cannot swallow the
  // actions that follow it.
  app.add_option("--query", options.extraQuery, "Extra raw query parameter (repeatable)")
      ->allow_extra_args(false);
  app.add_option("--location", location, "Start with this registration location (ID or rd/ID)");
  app.add_option("--ack-timeout", options.ackTimeoutSeconds, "CoAP ACK_TIMEOUT in seconds (>= 1)")
      ->capture_default_str();
  app.add_option("--max-retransmit", options.maxRetransmit, "CoAP MAX_RETRANSMIT")
      ->capture_default_str();
  app.add_flag("--firmware", options.firmwareObject,
               "Also host object 5 (Firmware Update); adds </5/0> to the default --objects");
  app.add_flag("--sensor", options.temperatureSensor,
               "Also host object 3303 (Temperature, float /3303/0/5700); adds </3303/0> to the "
               "default --objects");
  app.add_flag("--notify-non", options.notifyNon, "Send notifications as NON (default CON)");
  app.add_flag("--blockwise", options.blockwise,
               "Block-wise transfers: Register in Block1 blocks, large answers in Block2 blocks");
  app.add_option("--large-resource", options.largeResourceBytes,
                 "Make /3/0/17 a string of this many bytes (0123456789...)")
      ->check(CLI::Range(0, 1 << 24));
  app.add_option("--tick-resource", options.tickResource,
                 "A numeric resource (/3303/0/5700) that changes every --tick-ms while serving");
  app.add_option("--tick-ms", options.tickMs, "Milliseconds between ticks (default 1000)")
      ->check(CLI::Range(1u, 3'600'000u));
  app.add_option("--journal", journalPath,
                 "Append an 'EXECUTED PATH count=N mid=M token=T' line per Execute to FILE; the "
                 "counts continue from the lines already there");
  app.add_flag("-v,--verbose", verbose, "Log libcoap packet dumps to stderr");
  app.add_option("actions", actionTexts,
                 "register | update | update-lt=SECS | deregister | wait=SECS | awake=SECS | "
                 "sleep=SECS | notify=PATH | stale=PATH | malformed=PATH | rogue | "
                 "send=PATH[,PATH...] (LwM2M 1.1 Send, POST /dp in SenML JSON) | "
                 "send-raw=FORMAT:HEX (POST /dp, FORMAT a number or none) | stdin, run in "
                 "order; all but sleep answer the server's requests and send due notifications")
      ->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitFailure;
  }
  if (!pskKeyHex.empty()) {
    auto key = parseHex(pskKeyHex);
    if (!key) {
      std::cerr << "lwgate-sim: --psk-key: expected an even number of hex digits\n";
      return kExitFailure;
    }
    options.pskKey = std::move(*key);
  }
  options.lifetime = noLifetime ? std::nullopt : std::optional<std::uint32_t>(lifetime);
  if (noLifetime && app.count("--lt") > 0) options.storedLifetime = lifetime;
  if (options.firmwareObject && app.count("--objects") == 0) options.objects += ",</5/0>";
  if (options.temperatureSensor && app.count("--objects") == 0) options.objects += ",</3303/0>";

  std::vector<Action> actions;
  for (const auto& text : actionTexts) {
    auto action = parseAction(text);
    if (!action) {
      std::cerr << "lwgate-sim: unknown or malformed action '" << text << "'\n";
      return kExitFailure;
    }
    actions.push_back(*action);
  }

  setCoapVerbose(verbose);
  auto created = SimDevice::create(options);
  if (!created) {
    std::cerr << "lwgate-sim: " << created.error().message << '\n';
    return kExitFailure;
  }
  SimDevice& device = **created;
  if (!location.empty()) device.setLocation(location);
  ExecutionJournal journal(journalPath);
  device.setRequestObserver([&journal](const ServerRequest& request, const ServerReply& reply) {
    printRequest(request, reply);
    if (reply.executed) journal.record(*reply.executed, request);
  });
  device.setEventSink(printLine);
  // Tests address the sim's requests to this port (it is the one the server registered).
  std::cerr << "local port " << device.localPort() << std::endl;

  int exitCode = kExitOk;
  for (const auto& action : actions) {
    int rc = perform(action, device);
    exitCode = std::max(exitCode, rc);
    // After a transport failure the server's state is unknown; later actions would only
    // report confusing follow-on errors.
    if (rc == kExitFailure) break;
  }
  for (const auto& [path, count] : device.objects().executions()) {
    printLine("executed " + path + " " + std::to_string(count));
  }
  return exitCode;
}

}  // namespace
}  // namespace lwgate::sim

int main(int argc, char** argv) {
  return lwgate::sim::run(argc, argv);
}
