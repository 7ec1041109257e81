// lwgate-bench-drain: how fast the persistent downlink queue drains and fills (issue 3).
//
//  1. Drain through the gateway: N Reads are queued with one D-Bus SubmitBatch while a
//     queue-mode lwgate-sim sleeps; the time from its wake-up Update (DeviceUpdated signal) to
//     the last RequestCompleted signal is the drain time. The database's first sent_at and last
//     finished_at give the gateway's own view (ms resolution).
//  2. The same N Reads sent one at a time (NSTART=1, CON, each waiting for its answer) by a
//     plain libcoap client straight to another lwgate-sim, no gateway in between. The same
//     path and Accept option as the gateway used (read from the simulator's log of run 1).
//  3. Enqueue rate through D-Bus: SubmitBatch of B requests at a time, and single Read calls
//     (p50/p99 per call), to a queue-mode device that sleeps so nothing drains meanwhile.
//
// Runs the real lwgated on a private dbus-daemon and temporary SQLite file (the e2e harness's
// helpers). Prints figures; never judges them (DESIGN.md, Testing). Exit status 0 when every
// request completed, 1 when some did not, 2 on setup failure.
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <netinet/in.h>
#include <sdbus-c++/sdbus-c++.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "lwgate/dbus/gateway1_proxy.h"
#include "tests/e2e/harness.h"

namespace lwgate::bench {
namespace {

using namespace std::chrono_literals;
using e2e::Background;
using e2e::Lwgated;
using e2e::PrivateBus;
using e2e::TempDir;
using e2e::waitUntil;
using SteadyClock = std::chrono::steady_clock;
using Dict = std::map<std::string, sdbus::Variant>;
using Element = sdbus::Struct<std::string, std::string, std::string, sdbus::Variant, Dict>;

double secondsSince(SteadyClock::time_point t0, SteadyClock::time_point t1) {
  return std::chrono::duration<double>(t1 - t0).count();
}

// CPU time (user + system) a process has used so far, in microseconds; 0 if unknown. Unlike
// the wall-clock figures, CPU per request hardly moves when other work loads the machine.
double cpuMicros(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto close = stat.rfind(')');  // the command name may hold spaces
  if (close == std::string::npos) return 0;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int k = 3; k <= 15 && fields >> field; ++k) {
    if (k == 14) utime = std::stoull(field);
    if (k == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Counts RequestCompleted and remembers when the last one and DeviceUpdated arrived.
class Client final : public sdbus::ProxyInterfaces<org::lwgate::Gateway1_proxy> {
 public:
  explicit Client(sdbus::IConnection& c)
      : ProxyInterfaces(c, "org.lwgate.Gateway1", "/org/lwgate/Gateway1") {
    registerProxy();
  }
  ~Client() { unregisterProxy(); }

  std::atomic<std::size_t> completed{0};
  std::atomic<std::size_t> completedDone{0};
  std::mutex mutex;
  std::optional<SteadyClock::time_point> lastCompleted;
  std::map<std::string, SteadyClock::time_point> updated;  // endpoint -> first DeviceUpdated

 private:
  void onRequestCompleted(const uint64_t&, const std::string&, const std::string& state,
                          const std::string&, const std::string&, const std::string&,
                          const std::vector<uint8_t>&, const uint16_t&) override {
    auto now = SteadyClock::now();
    std::lock_guard lock(mutex);
    lastCompleted = now;
    if (state == "done") ++completedDone;
    ++completed;
  }
  void onDeviceUpdated(const std::string& ep, const sdbus::ObjectPath&) override {
    auto now = SteadyClock::now();
    std::lock_guard lock(mutex);
    updated.emplace(ep, now);
  }
  void onRequestProgress(const uint64_t&, const std::string&, const std::string&) override {}
  void onWakeDecision(const std::string&, const bool&, const std::string&, const std::string&,
                      const uint64_t&) override {}
  void onNotification(const uint64_t&, const std::string&, const std::string&, const uint64_t&,
                      const std::string&, const std::string&, const std::vector<uint8_t>&,
                      const uint16_t&) override {}
  void onSend(const uint64_t&, const std::string&, const std::string&, const std::vector<uint8_t>&,
              const uint16_t&) override {}
  void onDeviceRegistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceDeregistered(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceExpired(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAwake(const std::string&, const sdbus::ObjectPath&) override {}
  void onDeviceAsleep(const std::string&, const sdbus::ObjectPath&) override {}
};

bool deviceAwake(sdbus::IConnection& c, const std::string& ep) {
  auto proxy = sdbus::createProxy(c, "org.lwgate.Gateway1", "/org/lwgate/Gateway1/device/" + ep);
  return proxy->getProperty("Awake").onInterface("org.lwgate.Gateway1.Device").get<bool>();
}

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}

// --- 2. the plain libcoap client ----------------------------------------------------------

struct Direct {
  bool answered = false;
  bool failed = false;
  std::uint8_t code = 0;
};
Direct* gDirect = nullptr;

coap_response_t onResponse(coap_session_t*, const coap_pdu_t*, const coap_pdu_t* received,
                           const coap_mid_t) {
  if (gDirect) {
    gDirect->answered = true;
    gDirect->code = static_cast<std::uint8_t>(coap_pdu_get_code(received));
  }
  return COAP_RESPONSE_OK;
}
void onNack(coap_session_t*, const coap_pdu_t*, const coap_nack_reason_t, const coap_mid_t) {
  if (gDirect) gDirect->failed = true;
}

// A free UDP port on 127.0.0.1 (bound and released; the simulator is told to use it as its
// server address, and the client binds it right after).
std::uint16_t freeUdpPort() {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (fd >= 0) close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

coap_address_t loopback(std::uint16_t port) {
  coap_address_t a;
  coap_address_init(&a);
  a.addr.sin.sin_family = AF_INET;
  a.addr.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.addr.sin.sin_port = htons(port);
  a.size = sizeof(sockaddr_in);
  return a;
}

struct DirectResult {
  double seconds = 0;
  std::size_t answered = 0;
};

// N confirmable GETs, one at a time, from 127.0.0.1:localPort to the simulator.
std::optional<DirectResult> directRun(std::uint16_t localPort, std::uint16_t simPort,
                                      const std::string& path, std::optional<unsigned> accept,
                                      std::size_t n) {
  coap_context_t* ctx = coap_new_context(nullptr);
  if (!ctx) return std::nullopt;
  coap_register_response_handler(ctx, onResponse);
  coap_register_nack_handler(ctx, onNack);
  auto local = loopback(localPort);
  auto remote = loopback(simPort);
  coap_session_t* session = coap_new_client_session(ctx, &local, &remote, COAP_PROTO_UDP);
  if (!session) {
    coap_free_context(ctx);
    return std::nullopt;
  }
  const auto segments = split(path);
  DirectResult result;
  const auto t0 = SteadyClock::now();
  for (std::size_t k = 0; k < n; ++k) {
    Direct state;
    gDirect = &state;
    coap_pdu_t* pdu =
        coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET, coap_new_message_id(session),
                      coap_session_max_pdu_size(session));
    std::uint8_t token[8];
    std::size_t tokenLength = 0;
    coap_session_new_token(session, &tokenLength, token);
    coap_add_token(pdu, tokenLength, token);
    for (const auto& s : segments) {
      coap_add_option(pdu, COAP_OPTION_URI_PATH, s.size(),
                      reinterpret_cast<const std::uint8_t*>(s.data()));
    }
    if (accept) {
      std::uint8_t buf[4];
      coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof buf, *accept), buf);
    }
    if (coap_send(session, pdu) == COAP_INVALID_MID) break;
    const auto deadline = SteadyClock::now() + 60s;  // far beyond CoAP's own retransmissions
    while (!state.answered && !state.failed && SteadyClock::now() < deadline) {
      coap_io_process(ctx, 1000);
    }
    gDirect = nullptr;
    if (!state.answered || state.code != COAP_RESPONSE_CODE(205)) break;
    ++result.answered;
  }
  result.seconds = secondsSince(t0, SteadyClock::now());
  coap_session_release(session);
  coap_free_context(ctx);
  return result;
}

// Waits until the simulator printed "local port N" on stderr.
std::uint16_t simPort(const Background& sim) {
  std::uint16_t port = 0;
  waitUntil(
      [&] {
        std::smatch m;
        std::string err = sim.err();
        if (!std::regex_search(err, m, std::regex("local port (\\d+)"))) return false;
        port = static_cast<std::uint16_t>(std::stoi(m[1]));
        return true;
      },
      10s);
  return port;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(index, v.size() - 1)];
}

int run(int argc, char** argv) {
  CLI::App app{"lwgate-bench-drain: queue drain time vs a plain libcoap client, enqueue rate"};
  std::size_t n = 1000;
  std::string path = "/3/0/9";
  std::size_t batch = 1000;
  std::size_t batches = 20;
  std::size_t singles = 2000;
  std::string logLevel = "info";
  std::string only = "all";
  app.add_option("-n", n, "Requests to drain")->capture_default_str();
  app.add_option("--path", path, "Resource to Read")->capture_default_str();
  app.add_option("--batch", batch, "Requests per SubmitBatch (enqueue rate)")
      ->capture_default_str();
  app.add_option("--batches", batches, "SubmitBatch calls (enqueue rate)")->capture_default_str();
  app.add_option("--singles", singles, "Single Read calls (enqueue latency)")
      ->capture_default_str();
  app.add_option("--log-level", logLevel, "lwgated --log-level")->capture_default_str();
  app.add_option("--only", only, "Run one part: drain, enqueue or all")
      ->check(CLI::IsMember({"drain", "enqueue", "all"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  coap_startup();
  coap_set_log_level(LOG_WARNING);
  TempDir dir;
  PrivateBus bus(dir.path());
  const std::size_t enqueueTotal = batch * batches + singles;
  e2e::writeFile(dir.file("lwgated.toml"), "[queue]\nawake_window = 1\nmax_per_device = " +
                                               std::to_string(std::max(n, enqueueTotal) + 10) +
                                               "\n");
  Lwgated gw(dir.path());
  auto args = bus.lwgatedArgs();
  args.insert(args.end(), {"--config", dir.file("lwgated.toml"), "--log-level", logLevel});
  if (!gw.start(args) || !gw.waitForLog("LWG4001")) {
    std::cerr << "lwgated did not start:\n" << gw.log();
    return 2;
  }
  auto connection = sdbus::createSessionBusConnectionWithAddress(bus.address());
  connection->enterEventLoopAsync();
  auto client = std::make_unique<Client>(*connection);
  int status = 0;

  if (only != "enqueue") {
    // --- 1. drain through the gateway ---
    Background sim(dir.path(), "sim-drain");
    sim.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "drain", "--queue", "register",
               "sleep=" + std::to_string(5 + n / 200), "update", "awake=600"});
    if (!waitUntil([&] { return sim.out().find("register 2.01") != std::string::npos; }) ||
        !waitUntil([&] { return !deviceAwake(*connection, "drain"); })) {
      std::cerr << "the simulator did not register and fall asleep\n" << sim.err() << gw.log();
      return 2;
    }
    std::vector<Element> drainBatch;
    for (std::size_t k = 0; k < n; ++k) {
      drainBatch.push_back(Element{"drain", "read", path, sdbus::Variant(""), Dict{}});
    }
    const auto ids = client->SubmitBatch(drainBatch);
    const double gwCpu0 = cpuMicros(gw.pid()), simCpu0 = cpuMicros(sim.pid());
    if (sim.out().find("update") != std::string::npos) {
      std::cerr << "the simulator woke before the batch was queued\n";
      return 2;
    }
    const bool drained = waitUntil([&] { return client->completed >= n; }, 600s);
    const double gwCpu = cpuMicros(gw.pid()) - gwCpu0, simCpu = cpuMicros(sim.pid()) - simCpu0;
    std::optional<SteadyClock::time_point> wake, last;
    {
      std::lock_guard lock(client->mutex);
      if (client->updated.count("drain")) wake = client->updated["drain"];
      last = client->lastCompleted;
    }
    const std::string idRange =
        "id BETWEEN " + std::to_string(ids.front()) + " AND " + std::to_string(ids.back());
    const auto dbMs = e2e::queryInt(gw.database(),
                                    "SELECT max(finished_at) - min(sent_at) FROM "
                                    "requests WHERE " +
                                        idRange);
    const auto doneRows = e2e::queryInt(
        gw.database(), "SELECT count(*) FROM requests WHERE state = 'done' AND " + idRange);
    if (!drained || !wake || !last) {
      std::cerr << "drain incomplete: " << client->completed << "/" << n << " completed\n";
      status = 1;
    }
    const double gatewaySeconds = (wake && last) ? secondsSince(*wake, *last) : 0;
    // What the gateway sent, so the direct run sends the same.
    std::optional<unsigned> accept;
    {
      std::smatch m;
      std::string out = sim.out();
      if (std::regex_search(out, m, std::regex("request GET \\S+ accept=(\\d+)"))) {
        accept = static_cast<unsigned>(std::stoul(m[1]));
      }
    }
    sim.stop();

    // --- 2. the same requests straight from a libcoap client ---
    const std::uint16_t clientPort = freeUdpPort();
    Background direct(dir.path(), "sim-direct");
    direct.start({LWGATE_SIM_PATH, "--server", "coap://127.0.0.1:" + std::to_string(clientPort),
                  "--ep", "direct", "awake=600"});
    const std::uint16_t directPort = simPort(direct);
    std::optional<DirectResult> plain;
    const double directSimCpu0 = cpuMicros(direct.pid());
    if (clientPort != 0 && directPort != 0) {
      plain = directRun(clientPort, directPort, path, accept, n);
    }
    const double directSimCpu = cpuMicros(direct.pid()) - directSimCpu0;
    const std::string directOut = direct.out();
    const auto directLines = std::count(directOut.begin(), directOut.end(), '\n');
    direct.stop();
    if (!plain || plain->answered != n || static_cast<std::size_t>(directLines) != n) {
      std::cerr << "direct run incomplete: " << (plain ? plain->answered : 0) << "/" << n << "\n";
      status = 1;
    }

    std::printf("== drain: %zu x Read %s (Accept %s), one queue-mode device, NSTART=1\n", n,
                path.c_str(), accept ? std::to_string(*accept).c_str() : "none");
    std::printf(
        "gateway_drain_s %.3f  (wake-up Update to last RequestCompleted; %zu done, %lld "
        "rows done)\n",
        gatewaySeconds, client->completedDone.load(), static_cast<long long>(doneRows));
    std::printf("gateway_drain_db_s %.3f  (first sent_at to last finished_at)\n",
                static_cast<double>(dbMs) / 1000.0);
    if (plain) {
      std::printf(
          "direct_libcoap_s %.3f  (%zu answered 2.05, %zu requests in the simulator's log)\n",
          plain->seconds, plain->answered, static_cast<std::size_t>(directLines));
      if (plain->seconds > 0) {
        std::printf("ratio %.2f  (gateway / direct; target <= 1.2)\n",
                    gatewaySeconds / plain->seconds);
        std::printf("per_request_ms gateway %.3f direct %.3f\n", gatewaySeconds * 1000.0 / n,
                    plain->seconds * 1000.0 / n);
      }
    }
    std::printf(
        "cpu_us_per_request lwgated %.1f simulator %.1f (through the gateway), simulator %.1f "
        "(direct)\n",
        gwCpu / n, simCpu / n, directSimCpu / n);
  }
  if (only != "drain") {
    // --- 3. enqueue rate ---
    Background sleeper(dir.path(), "sim-sleeper");
    sleeper.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "sleeper", "--queue", "register",
                   "sleep=600"});
    if (!waitUntil([&] { return sleeper.out().find("register 2.01") != std::string::npos; }) ||
        !waitUntil([&] { return !deviceAwake(*connection, "sleeper"); })) {
      std::cerr << "the sleeping simulator did not register\n";
      return 2;
    }
    std::vector<Element> elements;
    for (std::size_t k = 0; k < batch; ++k) {
      elements.push_back(Element{"sleeper", "read", path, sdbus::Variant(""), Dict{}});
    }
    std::vector<double> batchSeconds;
    std::size_t stored = 0;
    for (std::size_t b = 0; b < batches; ++b) {
      const auto t0 = SteadyClock::now();
      stored += client->SubmitBatch(elements).size();
      batchSeconds.push_back(secondsSince(t0, SteadyClock::now()));
    }
    double batchTotal = 0;
    for (double s : batchSeconds) batchTotal += s;
    std::vector<double> singleMs;
    const auto singles0 = SteadyClock::now();
    for (std::size_t k = 0; k < singles; ++k) {
      const auto t0 = SteadyClock::now();
      client->Read("sleeper", path, {});
      singleMs.push_back(secondsSince(t0, SteadyClock::now()) * 1000.0);
    }
    const double singlesTotal = secondsSince(singles0, SteadyClock::now());
    const auto queued =
        e2e::queryInt(gw.database(),
                      "SELECT count(*) FROM requests r JOIN devices d ON d.id = r.device_id WHERE "
                      "d.endpoint = 'sleeper' AND r.state = 'queued'");
    std::printf("\n== enqueue through D-Bus (device asleep, nothing drains)\n");
    std::printf(
        "batch_rate %.0f requests/s  (%zu x SubmitBatch of %zu; per call p50 %.1f ms, max "
        "%.1f ms, first %.1f ms, last %.1f ms; target >= 20000/s)\n",
        batchTotal > 0 ? static_cast<double>(stored) / batchTotal : 0.0, batches, batch,
        percentile(batchSeconds, 0.5) * 1000.0, percentile(batchSeconds, 1.0) * 1000.0,
        batchSeconds.empty() ? 0.0 : batchSeconds.front() * 1000.0,
        batchSeconds.empty() ? 0.0 : batchSeconds.back() * 1000.0);
    std::printf("single_rate %.0f requests/s  (%zu x Read; per call p50 %.3f ms, p99 %.3f ms)\n",
                singlesTotal > 0 ? static_cast<double>(singles) / singlesTotal : 0.0, singles,
                percentile(singleMs, 0.5), percentile(singleMs, 0.99));
    std::printf("queued_rows %lld (expected %zu)\n", static_cast<long long>(queued),
                stored + singles);
    if (static_cast<std::size_t>(queued) != stored + singles) status = 1;
    sleeper.stop();
  }

  client.reset();
  connection->leaveEventLoop();
  const int exitStatus = gw.stop();
  std::printf("lwgated_exit_status %d (after SIGTERM)\n", exitStatus);
  coap_cleanup();
  return status;
}

}  // namespace
}  // namespace lwgate::bench

int main(int argc, char** argv) {
  return lwgate::bench::run(argc, argv);
}
