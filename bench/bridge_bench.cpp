// lwgate-bench-bridge: the latency the bridge adds to an upstream Read (issue 6).
//
//  1. Through the gateway: this program is the upstream LwM2M server (a libcoap server context
//     on 127.0.0.1 that answers the bridge's Register 2.01). lwgated bridges an awake lwgate-sim
//     to it; each Read goes to the device's upstream socket, is acknowledged at once, queued,
//     sent to the device, and its answer comes back as a separate response. One at a time.
//  2. Directly: the same Reads from a plain libcoap client straight to the simulator.
//  --registrations N instead: N devices register at lwgated during the upstream hold-off, then
//  the bridge registers them all upstream at registrations_per_second = 100000; the rate is N
//  over the time from the first upstream Register this server answered to the N-th.
//
// Prints p50/p90/p99 of both and the difference of the medians; never judges them (DESIGN.md,
// Testing). Exit status 0 when every Read was answered 2.05, 1 when some were not, 2 on setup
// failure.
#include <arpa/inet.h>
#include <coap3/coap.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/e2e/harness.h"

namespace lwgate::bench {
namespace {

using namespace std::chrono_literals;
using e2e::Background;
using e2e::Lwgated;
using e2e::TempDir;
using e2e::waitUntil;
using SteadyClock = std::chrono::steady_clock;

struct State {
  coap_session_t* upstream = nullptr;  // the bridge's session for the device (referenced)
  std::string registered;              // the endpoint name it registered
  bool answered = false;
  bool failed = false;
  std::uint8_t code = 0;
  std::size_t registers = 0;  // upstream Registers answered
  std::optional<SteadyClock::time_point> firstRegister, lastRegister;
  std::vector<SteadyClock::time_point> registerTimes;  // of every upstream Register answered
};
State gState;

void onRegister(coap_resource_t*, coap_session_t* session, const coap_pdu_t* request,
                const coap_string_t* query, coap_pdu_t* response) {
  (void)request;
  if (query) {
    std::string q(reinterpret_cast<const char*>(query->s), query->length);
    std::smatch m;
    if (std::regex_search(q, m, std::regex("ep=([^&]+)"))) gState.registered = m[1];
  }
  const auto now = SteadyClock::now();
  if (!gState.firstRegister) gState.firstRegister = now;
  gState.lastRegister = now;
  gState.registerTimes.push_back(now);
  ++gState.registers;
  if (!gState.upstream) gState.upstream = coap_session_reference(session);
  coap_pdu_set_code(response, COAP_RESPONSE_CODE_CREATED);
  coap_add_option(response, COAP_OPTION_LOCATION_PATH, 2,
                  reinterpret_cast<const std::uint8_t*>("rd"));
  coap_add_option(response, COAP_OPTION_LOCATION_PATH, 1,
                  reinterpret_cast<const std::uint8_t*>("1"));
}

// Updates and De-registers of the bridge: 2.04 / 2.02.
void onLocation(coap_resource_t*, coap_session_t*, const coap_pdu_t* request, const coap_string_t*,
                coap_pdu_t* response) {
  const bool remove = coap_pdu_get_code(request) == COAP_REQUEST_CODE_DELETE;
  coap_pdu_set_code(response, remove ? COAP_RESPONSE_CODE_DELETED : COAP_RESPONSE_CODE_CHANGED);
}

coap_response_t onResponse(coap_session_t*, const coap_pdu_t*, const coap_pdu_t* received,
                           const coap_mid_t) {
  if (coap_pdu_get_code(received) == 0) return COAP_RESPONSE_OK;  // the empty ACK
  gState.answered = true;
  gState.code = static_cast<std::uint8_t>(coap_pdu_get_code(received));
  return COAP_RESPONSE_OK;
}
void onNack(coap_session_t*, const coap_pdu_t*, const coap_nack_reason_t, const coap_mid_t) {
  gState.failed = true;
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

// One confirmable GET of /3/0/0 (Accept text/plain) on `session`, waiting for its answer;
// milliseconds, or nullopt when it failed or was not 2.05.
std::optional<double> readOnce(coap_context_t* ctx, coap_session_t* session) {
  gState.answered = gState.failed = false;
  coap_pdu_t* pdu = coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_GET,
                                  coap_new_message_id(session), coap_session_max_pdu_size(session));
  if (!pdu) return std::nullopt;
  std::uint8_t token[8];
  std::size_t tokenLength = 0;
  coap_session_new_token(session, &tokenLength, token);
  coap_add_token(pdu, tokenLength, token);
  for (const char* segment : {"3", "0", "0"}) {
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 1, reinterpret_cast<const std::uint8_t*>(segment));
  }
  std::uint8_t buf[4];
  coap_add_option(pdu, COAP_OPTION_ACCEPT, coap_encode_var_safe(buf, sizeof buf, 0), buf);
  const auto t0 = SteadyClock::now();
  if (coap_send(session, pdu) == COAP_INVALID_MID) return std::nullopt;
  const auto deadline = t0 + 60s;  // far beyond CoAP's own retransmissions
  while (!gState.answered && !gState.failed && SteadyClock::now() < deadline) {
    coap_io_process(ctx, 1000);
  }
  if (!gState.answered || gState.code != COAP_RESPONSE_CODE(205)) return std::nullopt;
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto index = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(index, v.size() - 1)];
}

void report(const char* name, const std::vector<double>& ms, std::size_t n) {
  std::printf("%s  %zu/%zu answered  p50 %.3f ms  p90 %.3f ms  p99 %.3f ms\n", name, ms.size(), n,
              percentile(ms, 0.5), percentile(ms, 0.9), percentile(ms, 0.99));
}

// Registers `n` endpoints at lwgated from one client session, one at a time.
std::size_t registerLocally(coap_context_t* ctx, std::uint16_t gatewayPort, std::size_t n) {
  coap_address_t gateway = loopback(gatewayPort);
  coap_session_t* session = coap_new_client_session(ctx, nullptr, &gateway, COAP_PROTO_UDP);
  if (!session) return 0;
  std::size_t ok = 0;
  for (std::size_t k = 0; k < n; ++k) {
    gState.answered = gState.failed = false;
    coap_pdu_t* pdu =
        coap_pdu_init(COAP_MESSAGE_CON, COAP_REQUEST_CODE_POST, coap_new_message_id(session),
                      coap_session_max_pdu_size(session));
    if (!pdu) break;
    std::uint8_t token[8];
    std::size_t tokenLength = 0;
    coap_session_new_token(session, &tokenLength, token);
    coap_add_token(pdu, tokenLength, token);
    coap_add_option(pdu, COAP_OPTION_URI_PATH, 2, reinterpret_cast<const std::uint8_t*>("rd"));
    std::uint8_t buf[4];
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, coap_encode_var_safe(buf, sizeof buf, 40),
                    buf);
    const std::string ep = "ep=dev-" + std::to_string(k);
    for (const std::string& q : {ep, std::string("lt=86400"), std::string("lwm2m=1.1")}) {
      coap_add_option(pdu, COAP_OPTION_URI_QUERY, q.size(),
                      reinterpret_cast<const std::uint8_t*>(q.data()));
    }
    coap_add_data(pdu, 6, reinterpret_cast<const std::uint8_t*>("</3/0>"));
    if (coap_send(session, pdu) == COAP_INVALID_MID) break;
    const auto deadline = SteadyClock::now() + 30s;
    while (!gState.answered && !gState.failed && SteadyClock::now() < deadline) {
      coap_io_process(ctx, 100);
    }
    if (!gState.answered || gState.code != COAP_RESPONSE_CODE(201)) {
      std::fprintf(stderr, "local Register %zu: answered %d failed %d code %d.%02d\n", k,
                   gState.answered, gState.failed, gState.code >> 5, gState.code & 31);
      break;
    }
    ++ok;
  }
  coap_session_release(session);
  return ok;
}

// Udp RcvbufErrors of /proc/net/snmp: datagrams the kernel dropped because a socket's receive
// buffer was full (-1 where it cannot be read).
long long udpReceiveBufferErrors() {
  std::ifstream snmp("/proc/net/snmp");
  std::string header, values;
  while (std::getline(snmp, header) && std::getline(snmp, values)) {
    if (header.rfind("Udp:", 0) != 0) continue;
    std::istringstream names(header), numbers(values);
    std::string name, number;
    while (names >> name && numbers >> number) {
      if (name == "RcvbufErrors") return std::stoll(number);
    }
  }
  return -1;
}

int registrationRate(coap_context_t* ctx, std::uint16_t upstreamPort, std::size_t n,
                     const std::string& logLevel) {
  TempDir dir;
  // The hold-off covers the local registrations, so the upstream ones are measured alone.
  const double holdOff = 5.0 + static_cast<double>(n) / 2000.0;
  e2e::writeFile(dir.file("lwgated.toml"),
                 "[server]\nmax_devices = " + std::to_string(n + 10) +
                     "\n[dbus]\nbus = \"none\"\n[registration]\nrate_limit = 0\n"
                     "[[upstream]]\nuri = \"coap://127.0.0.1:" +
                     std::to_string(upstreamPort) + "\"\nhold_off = " + std::to_string(holdOff) +
                     "\nregistrations_per_second = 100000\n");
  Lwgated gw(dir.path());
  if (!gw.start({"--config", dir.file("lwgated.toml"), "--log-level", logLevel})) {
    std::cerr << "lwgated did not start:\n" << gw.log();
    return 2;
  }
  const long long dropsBefore = udpReceiveBufferErrors();
  const auto t0 = SteadyClock::now();
  const std::size_t local = registerLocally(ctx, gw.port(), n);
  const double localSeconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  if (gState.registers > 0 || localSeconds >= holdOff) {
    std::printf("warning: the hold-off ended before the local registrations (%.1f s)\n",
                localSeconds);
  }
  const auto until = SteadyClock::now() + std::chrono::seconds(60 + n / 100);
  while (gState.registers < local && SteadyClock::now() < until) coap_io_process(ctx, 100);
  const double seconds =
      gState.firstRegister && gState.lastRegister
          ? std::chrono::duration<double>(*gState.lastRegister - *gState.firstRegister).count()
          : 0;
  std::printf("local_registrations %zu/%zu in %.2f s\n", local, n, localSeconds);
  std::printf("upstream_registrations %zu/%zu in %.2f s: %.0f per second\n", gState.registers,
              local, seconds, seconds > 0 ? static_cast<double>(gState.registers) / seconds : 0);
  // How the Registers spread over that time: a rate set by a few late ones (lost and
  // retransmitted) looks different from a steady one. The kernel's count of UDP datagrams
  // dropped for a full receive buffer (both ends are on this host) says whether any were lost.
  if (!gState.registerTimes.empty()) {
    std::printf("upstream_registers_answered_after");
    for (double q : {0.5, 0.9, 0.99, 1.0}) {
      const auto k = static_cast<std::size_t>(q * static_cast<double>(gState.registerTimes.size()));
      const auto at = gState.registerTimes[std::min(k, gState.registerTimes.size() - 1)];
      std::printf(" p%g=%.2fs", q * 100,
                  std::chrono::duration<double>(at - *gState.firstRegister).count());
    }
    std::printf("\n");
  }
  std::printf("udp_receive_buffer_drops %lld\n", udpReceiveBufferErrors() - dropsBefore);
  gw.stop();
  return local == n && gState.registers == n ? 0 : 1;
}

int run(int argc, char** argv) {
  CLI::App app{"lwgate-bench-bridge: an upstream Read through lwgated vs straight to the device"};
  std::size_t n = 1000;
  std::string logLevel = "notice";
  app.add_option("-n", n, "Reads each way")->capture_default_str();
  app.add_option("--log-level", logLevel, "lwgated --log-level")->capture_default_str();
  std::size_t registrations = 0;
  app.add_option("--registrations", registrations,
                 "Instead: upstream Registers per second for this many devices");
  CLI11_PARSE(app, argc, argv);

  coap_startup();
  coap_set_log_level(LOG_WARNING);
  const std::uint16_t upstreamPort = freeUdpPort();
  coap_context_t* ctx = coap_new_context(nullptr);
  coap_address_t listen = loopback(upstreamPort);
  if (!ctx || !coap_new_endpoint(ctx, &listen, COAP_PROTO_UDP)) {
    std::cerr << "cannot listen on 127.0.0.1:" << upstreamPort << "\n";
    return 2;
  }
  coap_register_response_handler(ctx, onResponse);
  coap_register_nack_handler(ctx, onNack);
  coap_resource_t* rd = coap_resource_init(coap_make_str_const("rd"), 0);
  coap_register_handler(rd, COAP_REQUEST_POST, onRegister);
  coap_add_resource(ctx, rd);
  coap_resource_t* location = coap_resource_init(coap_make_str_const("rd/1"), 0);
  coap_register_handler(location, COAP_REQUEST_POST, onLocation);
  coap_register_handler(location, COAP_REQUEST_DELETE, onLocation);
  coap_add_resource(ctx, location);
  if (registrations > 0) {
    const int status = registrationRate(ctx, upstreamPort, registrations, logLevel);
    if (gState.upstream) coap_session_release(gState.upstream);
    coap_free_context(ctx);
    coap_cleanup();
    return status;
  }

  TempDir dir;
  e2e::writeFile(dir.file("lwgated.toml"),
                 "[dbus]\nbus = \"none\"\n[[upstream]]\nuri = "
                 "\"coap://127.0.0.1:" +
                     std::to_string(upstreamPort) + "\"\n");
  Lwgated gw(dir.path());
  if (!gw.start({"--config", dir.file("lwgated.toml"), "--log-level", logLevel})) {
    std::cerr << "lwgated did not start:\n" << gw.log();
    return 2;
  }
  Background sim(dir.path(), "sim");
  sim.start({LWGATE_SIM_PATH, "--server", gw.url(), "--ep", "bench", "register", "wait=3600"});
  const auto until = SteadyClock::now() + 20s;
  while (!gState.upstream && SteadyClock::now() < until) coap_io_process(ctx, 100);
  if (!gState.upstream) {
    std::cerr << "the device did not appear upstream\n" << sim.err() << gw.log();
    return 2;
  }
  // The direct run's device: a second simulator that serves without registering. Its socket is
  // connected to its --server address, so the plain client sends from that address.
  const std::uint16_t clientPort = freeUdpPort();
  Background plain(dir.path(), "sim-direct");
  plain.start({LWGATE_SIM_PATH, "--server", "coap://127.0.0.1:" + std::to_string(clientPort),
               "--ep", "direct", "awake=3600"});
  std::uint16_t simPort = 0;
  waitUntil(
      [&] {
        std::smatch m;
        std::string err = plain.err();
        if (!std::regex_search(err, m, std::regex("local port (\\d+)"))) return false;
        simPort = static_cast<std::uint16_t>(std::stoi(m[1]));
        return true;
      },
      10s);
  if (simPort == 0 || clientPort == 0) {
    std::cerr << "the direct simulator did not start\n" << plain.err();
    return 2;
  }
  std::printf("device %s registered upstream; %zu Reads of /3/0/0 each way, one at a time\n",
              gState.registered.c_str(), n);

  std::vector<double> bridged;
  for (std::size_t k = 0; k < n; ++k) {
    if (auto ms = readOnce(ctx, gState.upstream)) bridged.push_back(*ms);
  }
  coap_address_t local = loopback(clientPort);
  coap_address_t simAddress = loopback(simPort);
  coap_session_t* direct = coap_new_client_session(ctx, &local, &simAddress, COAP_PROTO_UDP);
  std::vector<double> straight;
  for (std::size_t k = 0; direct && k < n; ++k) {
    if (auto ms = readOnce(ctx, direct)) straight.push_back(*ms);
  }
  report("through_lwgated", bridged, n);
  report("direct         ", straight, n);
  std::printf("added_p50 %.3f ms\n", percentile(bridged, 0.5) - percentile(straight, 0.5));
  if (direct) coap_session_release(direct);
  coap_session_release(gState.upstream);
  gState.upstream = nullptr;
  plain.stop();
  sim.stop();
  gw.stop();
  coap_free_context(ctx);
  coap_cleanup();
  return bridged.size() == n && straight.size() == n ? 0 : 1;
}

}  // namespace
}  // namespace lwgate::bench

int main(int argc, char** argv) {
  return lwgate::bench::run(argc, argv);
}
