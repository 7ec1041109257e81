// lwgate-bench-register: how many LwM2M Registers per second a server commits, and with what
// latency, for N distinct endpoints with W requests in flight.
//
// Each of the W slots owns one connected non-blocking UDP socket and has at most one CON
// request outstanding (so every simulated device respects NSTART = 1, RFC 7252 section 4.7).
// Responses are matched by token (and the piggybacked ACK also by message id); lost requests
// are retransmitted with the RFC's doubling timeout, and a request still unanswered after
// MAX_RETRANSMIT retransmissions counts as a timeout. Latency is measured from the first
// transmission to the response, so it includes retransmission delay.
//
// This program prints figures; it never judges them. Its exit code only says whether every
// registration got 2.01 (0), some did not (1), or the run could not start (2).
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bench/coap_wire.h"

namespace lwgate::bench {
namespace {

using Clock = std::chrono::steady_clock;
using Nanos = std::chrono::nanoseconds;

constexpr int kExitOk = 0;
constexpr int kExitNotAllCreated = 1;
constexpr int kExitSetup = 2;
constexpr std::size_t kTokenLength = 8;
constexpr std::size_t kMaxDatagram = 1500;
constexpr std::uint8_t kCreated = codeOf(2, 1);

struct Options {
  std::string server = "127.0.0.1:5683";
  std::uint32_t count = 20000;
  std::uint32_t inFlight = 32;
  std::uint32_t lifetime = 300;
  std::string objects = "</1/0>,</3/0>";
  std::uint32_t warmup = 0;
  std::string prefix = "bench-";
  std::string lwm2m = "1.1";
  std::string binding = "U";
  double ackTimeout = 2.0;
  std::uint32_t maxRetransmit = 4;
  double maxSeconds = 600.0;
};

struct Stats {
  std::uint64_t total = 0;
  std::uint64_t created = 0;
  std::map<std::uint8_t, std::uint64_t> otherCodes;  // every non-2.01 response code
  std::uint64_t resets = 0;
  std::uint64_t timeouts = 0;
  std::uint64_t unfinished = 0;  // not started or not answered when --max-seconds ran out
  std::uint64_t retransmits = 0;
  std::uint64_t separateResponses = 0;
  std::uint64_t malformed = 0;
  std::uint64_t stray = 0;  // well-formed but matching no outstanding request (late duplicates)
  std::uint64_t socketErrors = 0;
  std::vector<double> latencyMs;  // one per answered request, any code
  double elapsedSeconds = 0;
};

struct Slot {
  int fd = -1;
  bool busy = false;
  bool acked = false;  // an empty ACK came: stop retransmitting, wait for the separate response
  std::uint16_t nextMid = 0;
  std::uint16_t mid = 0;
  std::array<std::uint8_t, kTokenLength> token{};
  std::vector<std::uint8_t> packet;
  Clock::time_point firstSent;
  Clock::time_point deadline;  // next retransmission, or give-up time once acked
  Nanos interval{};
  std::uint32_t retransmits = 0;
};

class Generator {
 public:
  Generator(const Options& options, const sockaddr_storage& server, socklen_t serverLength)
      : options_(options), server_(server), serverLength_(serverLength) {
    std::random_device random;
    nonce_ = random();
    ackTimeout_ =
        std::chrono::duration_cast<Nanos>(std::chrono::duration<double>(options.ackTimeout));
    // MAX_TRANSMIT_WAIT (RFC 7252 section 4.8.2) bounds how long a separate response may take.
    maxTransmitWait_ = ackTimeout_ * ((1u << (options.maxRetransmit + 1)) - 1) * 3 / 2;
  }

  ~Generator() {
    for (auto& slot : slots_) {
      if (slot.fd >= 0) close(slot.fd);
    }
    if (epoll_ >= 0) close(epoll_);
  }

  bool open(std::string* error) {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    if (epoll_ < 0) return fail(error, "epoll_create1");
    slots_.resize(options_.inFlight);
    std::mt19937 mids(nonce_);
    for (std::size_t i = 0; i < slots_.size(); ++i) {
      Slot& slot = slots_[i];
      slot.fd = socket(server_.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (slot.fd < 0) return fail(error, "socket");
      if (connect(slot.fd, reinterpret_cast<const sockaddr*>(&server_), serverLength_) < 0) {
        return fail(error, "connect");
      }
      slot.nextMid = static_cast<std::uint16_t>(mids());
      epoll_event event{};
      event.events = EPOLLIN;
      event.data.u64 = i;
      if (epoll_ctl(epoll_, EPOLL_CTL_ADD, slot.fd, &event) < 0) return fail(error, "epoll_ctl");
    }
    return true;
  }

  // Registers endpoints prefix0 .. prefix(count-1); returns the figures for this phase.
  Stats run(const std::string& prefix, std::uint32_t count) {
    Stats stats;
    stats.latencyMs.reserve(count);
    prefix_ = prefix;
    total_ = count;
    next_ = 0;
    done_ = 0;
    const auto start = Clock::now();
    const auto giveUp = start + std::chrono::duration_cast<Nanos>(
                                    std::chrono::duration<double>(options_.maxSeconds));
    for (auto& slot : slots_) issue(slot, stats, start);

    std::vector<epoll_event> events(slots_.size());
    std::uint8_t buffer[kMaxDatagram];
    while (done_ < total_) {
      auto now = Clock::now();
      if (now >= giveUp) break;
      Clock::time_point wake = giveUp;
      for (const auto& slot : slots_) {
        if (slot.busy) wake = std::min(wake, slot.deadline);
      }
      // Round up so we never spin on a deadline a fraction of a millisecond away.
      auto waitMs = std::chrono::duration_cast<std::chrono::milliseconds>(wake - now).count() + 1;
      int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()),
                         static_cast<int>(std::clamp<long long>(waitMs, 0, 1000)));
      if (n < 0 && errno != EINTR) {
        std::perror("epoll_wait");
        break;
      }
      for (int e = 0; e < n; ++e) {
        Slot& slot = slots_[events[e].data.u64];
        // Drain the socket: responses and stray duplicates may be queued together.
        for (;;) {
          ssize_t got = recv(slot.fd, buffer, sizeof buffer, 0);
          if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            if (errno == EINTR) continue;
            // ECONNREFUSED is an ICMP port unreachable for an earlier datagram; the
            // retransmission timer decides what happens to the request.
            ++stats.socketErrors;
            break;
          }
          handle(slot, buffer, static_cast<std::size_t>(got), stats);
        }
      }
      expire(stats, Clock::now());
    }
    const auto end = Clock::now();
    stats.elapsedSeconds = std::chrono::duration<double>(end - start).count();
    stats.total = total_;
    stats.unfinished = total_ - done_;
    for (auto& slot : slots_) slot.busy = false;  // abandoned at the give-up time
    return stats;
  }

 private:
  static bool fail(std::string* error, const char* what) {
    *error = std::string(what) + ": " + std::strerror(errno);
    return false;
  }

  void issue(Slot& slot, Stats& stats, Clock::time_point now) {
    if (next_ >= total_) {
      slot.busy = false;
      return;
    }
    std::uint32_t index = next_++;
    slot.mid = slot.nextMid++;
    // Token = run nonce + request index: unique within the run and unlikely to match anything
    // left over from an earlier run against the same server.
    for (int i = 0; i < 4; ++i) {
      slot.token[i] = static_cast<std::uint8_t>(nonce_ >> (24 - 8 * i));
      slot.token[4 + i] = static_cast<std::uint8_t>(index >> (24 - 8 * i));
    }
    slot.packet.clear();
    MessageBuilder message(slot.packet, MessageType::kCon, kCodePost, slot.mid, slot.token.data(),
                           slot.token.size());
    message.option(kOptionUriPath, "rd")
        .uintOption(kOptionContentFormat, kFormatLinkFormat)
        .option(kOptionUriQuery, "ep=" + prefix_ + std::to_string(index))
        .option(kOptionUriQuery, "lt=" + std::to_string(options_.lifetime));
    if (!options_.lwm2m.empty()) message.option(kOptionUriQuery, "lwm2m=" + options_.lwm2m);
    if (!options_.binding.empty()) message.option(kOptionUriQuery, "b=" + options_.binding);
    message.payload(options_.objects);

    slot.busy = true;
    slot.acked = false;
    slot.retransmits = 0;
    slot.interval = ackTimeout_;
    slot.firstSent = now;
    slot.deadline = now + slot.interval;
    transmit(slot, stats);
  }

  void transmit(Slot& slot, Stats& stats) {
    if (send(slot.fd, slot.packet.data(), slot.packet.size(), 0) < 0) {
      // EAGAIN (full socket buffer) or a pending ICMP error: treat like a lost datagram and let
      // the retransmission timer retry.
      ++stats.socketErrors;
    }
  }

  void complete(Slot& slot, Stats& stats, Clock::time_point now) {
    ++done_;
    issue(slot, stats, now);
  }

  void handle(Slot& slot, const std::uint8_t* data, std::size_t size, Stats& stats) {
    auto message = parseMessage(data, size);
    if (!message) {
      ++stats.malformed;
      return;
    }
    const auto now = Clock::now();
    bool tokenMatches = message->tokenLength == kTokenLength &&
                        std::equal(slot.token.begin(), slot.token.end(), message->token.begin());
    bool midMatches = message->mid == slot.mid;

    if (message->type == MessageType::kCon) {
      // A separate response (or anything confirmable) must be acknowledged, ours or not,
      // or the server keeps retransmitting it (RFC 7252 section 5.2.2).
      std::vector<std::uint8_t> ack;
      MessageBuilder(ack, MessageType::kAck, kCodeEmpty, message->mid, nullptr, 0);
      send(slot.fd, ack.data(), ack.size(), 0);
    }
    if (!slot.busy) {
      ++stats.stray;
      return;
    }
    switch (message->type) {
      case MessageType::kAck:
        if (!midMatches) break;
        if (message->code == kCodeEmpty) {
          // Separate response follows; stop retransmitting but stay bounded.
          slot.acked = true;
          slot.deadline = now + maxTransmitWait_;
          return;
        }
        if (!tokenMatches) break;
        record(slot, message->code, stats, now);
        complete(slot, stats, now);
        return;
      case MessageType::kCon:
      case MessageType::kNon:
        if (!tokenMatches || message->code == kCodeEmpty) break;
        ++stats.separateResponses;
        record(slot, message->code, stats, now);
        complete(slot, stats, now);
        return;
      case MessageType::kRst:
        if (!midMatches) break;
        ++stats.resets;
        complete(slot, stats, now);
        return;
    }
    ++stats.stray;
  }

  void record(const Slot& slot, std::uint8_t code, Stats& stats, Clock::time_point now) {
    stats.latencyMs.push_back(
        std::chrono::duration<double, std::milli>(now - slot.firstSent).count());
    if (code == kCreated) {
      ++stats.created;
    } else {
      ++stats.otherCodes[code];
    }
  }

  void expire(Stats& stats, Clock::time_point now) {
    for (auto& slot : slots_) {
      if (!slot.busy || now < slot.deadline) continue;
      if (slot.acked || slot.retransmits >= options_.maxRetransmit) {
        ++stats.timeouts;
        complete(slot, stats, now);
        continue;
      }
      ++slot.retransmits;
      ++stats.retransmits;
      slot.interval *= 2;
      slot.deadline = now + slot.interval;
      transmit(slot, stats);
    }
  }

  const Options& options_;
  sockaddr_storage server_;
  socklen_t serverLength_;
  std::uint32_t nonce_ = 0;
  Nanos ackTimeout_{};
  Nanos maxTransmitWait_{};
  int epoll_ = -1;
  std::vector<Slot> slots_;
  std::string prefix_;
  std::uint32_t total_ = 0;
  std::uint32_t next_ = 0;
  std::uint32_t done_ = 0;
};

bool resolve(const std::string& text, sockaddr_storage* out, socklen_t* length,
             std::string* error) {
  std::string host;
  std::string port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find("]:");
    if (close == std::string::npos) {
      *error = "expected [IPV6]:PORT";
      return false;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      *error = "expected HOST:PORT";
      return false;
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = std::string("cannot resolve: ") + gai_strerror(rc);
    return false;
  }
  std::memcpy(out, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

std::string codeText(std::uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "%d.%02d", code >> 5, code & 0x1f);
  return text;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  // Nearest-rank: the smallest value with at least p of the samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

void print(const Options& options, Stats& stats) {
  std::sort(stats.latencyMs.begin(), stats.latencyMs.end());
  double rate =
      stats.elapsedSeconds > 0 ? static_cast<double>(stats.created) / stats.elapsedSeconds : 0;
  std::string errors;
  for (const auto& [code, n] : stats.otherCodes) {
    errors += (errors.empty() ? "" : " ") + codeText(code) + "=" + std::to_string(n);
  }
  if (stats.resets)
    errors += (errors.empty() ? "" : " ") + std::string("RST=") + std::to_string(stats.resets);
  if (errors.empty()) errors = "none";
  auto& v = stats.latencyMs;
  std::printf("server          %s\n", options.server.c_str());
  std::printf("in_flight       %u\n", options.inFlight);
  std::printf("total           %llu\n", static_cast<unsigned long long>(stats.total));
  std::printf("created_2.01    %llu\n", static_cast<unsigned long long>(stats.created));
  std::printf("elapsed_s       %.3f\n", stats.elapsedSeconds);
  std::printf("rate_per_s      %.1f\n", rate);
  // The mean is printed too because a rare slow commit (a WAL checkpoint) can dominate it
  // while leaving p50 and p90 untouched.
  double sum = 0;
  for (double x : v) sum += x;
  std::printf("latency_ms      p50=%.3f p90=%.3f p99=%.3f max=%.3f mean=%.3f\n",
              percentile(v, 0.50), percentile(v, 0.90), percentile(v, 0.99),
              v.empty() ? 0.0 : v.back(), v.empty() ? 0.0 : sum / static_cast<double>(v.size()));
  std::printf("errors          %s\n", errors.c_str());
  std::printf("timeouts        %llu\n", static_cast<unsigned long long>(stats.timeouts));
  std::printf("unfinished      %llu\n", static_cast<unsigned long long>(stats.unfinished));
  std::printf("retransmits     %llu\n", static_cast<unsigned long long>(stats.retransmits));
  std::printf("separate_resp   %llu\n", static_cast<unsigned long long>(stats.separateResponses));
  std::printf("stray_or_bad    %llu/%llu\n", static_cast<unsigned long long>(stats.stray),
              static_cast<unsigned long long>(stats.malformed));
  std::printf("socket_errors   %llu\n", static_cast<unsigned long long>(stats.socketErrors));
  std::fflush(stdout);
}

int run(int argc, char** argv) {
  CLI::App app{"lwgate-bench-register: LwM2M Register throughput and latency"};
  Options o;
  app.add_option("--server", o.server, "Server HOST:PORT or [IPV6]:PORT")->capture_default_str();
  app.add_option("-n,--count", o.count, "Distinct endpoints to register")
      ->check(CLI::Range(1u, 10000000u))
      ->capture_default_str();
  app.add_option("-w,--in-flight", o.inFlight, "Requests in flight (one socket each)")
      ->check(CLI::Range(1u, 4096u))
      ->capture_default_str();
  app.add_option("--lt", o.lifetime, "Registration lifetime in seconds")->capture_default_str();
  app.add_option("--objects", o.objects, "Link-format payload")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Unmeasured registrations before the run")
      ->capture_default_str();
  app.add_option("--prefix", o.prefix, "Endpoint name prefix (index appended)")
      ->capture_default_str();
  app.add_option("--lwm2m", o.lwm2m, "lwm2m parameter (empty omits it)")->capture_default_str();
  app.add_option("--binding", o.binding, "b parameter (empty omits it)")->capture_default_str();
  app.add_option("--ack-timeout", o.ackTimeout, "CoAP ACK_TIMEOUT in seconds")
      ->check(CLI::Range(0.001, 60.0))
      ->capture_default_str();
  app.add_option("--max-retransmit", o.maxRetransmit, "CoAP MAX_RETRANSMIT")
      ->check(CLI::Range(0u, 10u))
      ->capture_default_str();
  app.add_option("--max-seconds", o.maxSeconds, "Give up on the measured run after this long")
      ->check(CLI::Range(0.1, 86400.0))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitSetup;
  }

  sockaddr_storage server{};
  socklen_t serverLength = 0;
  std::string error;
  if (!resolve(o.server, &server, &serverLength, &error)) {
    std::fprintf(stderr, "lwgate-bench-register: --server %s: %s\n", o.server.c_str(),
                 error.c_str());
    return kExitSetup;
  }
  Generator generator(o, server, serverLength);
  if (!generator.open(&error)) {
    std::fprintf(stderr, "lwgate-bench-register: %s\n", error.c_str());
    return kExitSetup;
  }
  if (o.warmup > 0) {
    Stats warm = generator.run(o.prefix + "warm-", o.warmup);
    std::printf("warmup          %u (created %llu)\n", o.warmup,
                static_cast<unsigned long long>(warm.created));
  }
  Stats stats = generator.run(o.prefix, o.count);
  print(o, stats);
  return stats.created == stats.total ? kExitOk : kExitNotAllCreated;
}

}  // namespace
}  // namespace lwgate::bench

int main(int argc, char** argv) {
  return lwgate::bench::run(argc, argv);
}
