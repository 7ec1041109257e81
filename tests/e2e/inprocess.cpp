#include "tests/e2e/inprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "db/request_store.h"

namespace lwgate::e2e::inproc {
namespace {

template <class T>
T orThrow(Result<T> r, const std::string& what) {
  if (!r) throw std::runtime_error(what + ": " + r.error().message);
  return std::move(*r);
}

std::string newLocation() {
  static int n = 0;
  return "loc" + std::to_string(++n) + "x" + std::to_string(::getpid());
}

}  // namespace

Gateway::Gateway(GatewayOptions options) : options_(std::move(options)) {
  db_.emplace(orThrow(db::openDatabase(options_.database), "open " + options_.database));
  store_ = orThrow(db::SqliteRegistrationStore::create(db_->connection()), "registration store");
  coap_ = orThrow(
      coap::Server::create(
          clock_, {.ackTimeout = options_.ackTimeout, .maxRetransmit = options_.maxRetransmit},
          [this](const core::Request& r) {
            if (core::RegistrationInterface::handles(r)) return rd_->handle(r);
            core::Response notFound;
            notFound.code = core::Code::kNotFound;
            return notFound;
          }),
      "coap server");
  downlink_ = std::make_unique<daemon::Downlink>(clock_, db_->connection(), *coap_, options_.queue,
                                                 options_.observations);
  if (auto opened = downlink_->open(); !opened) {
    throw std::runtime_error("downlink: " + opened.error().message);
  }
  registry_ =
      std::make_unique<core::Registry>(clock_, *store_, core::RegistryLimits{}, newLocation);
  auto restored = orThrow(registry_->restore(), "registry");
  registry_->setListener(this);
  rd_ = std::make_unique<core::RegistrationInterface>(*registry_, core::RegistrationLimits{});
  downlink_->setRegistry(registry_.get());
  registry_->forEach([this](const core::Registration& r) { downlink_->restored(r); });
  auto urls = orThrow(coap_->listenUdp({"127.0.0.1", options_.port}), "listen");
  std::smatch m;
  if (!std::regex_search(urls.at(0), m, std::regex(":(\\d+)$"))) {
    throw std::runtime_error("no port in " + urls.at(0));
  }
  port_ = static_cast<std::uint16_t>(std::stoi(m[1]));
  downlink_->flush();
}

Gateway::~Gateway() {
  // The server goes before the downlink that registered its handlers is gone.
  downlink_.reset();
  coap_.reset();
}

void Gateway::registered(const core::Registration& r, const core::Registration* replaced) {
  downlink_->registered(r, replaced);
}
void Gateway::updated(const core::Registration& r, const core::Peer& previousPeer) {
  downlink_->updated(r, previousPeer);
}
void Gateway::deregistered(const core::Registration& r) {
  downlink_->gone(r);
}
void Gateway::expired(const core::Registration& r) {
  downlink_->gone(r);
}

void Gateway::processBatch() {
  auto batch = db::Transaction::begin(db_->connection());
  coap_->setDeferResponses(batch.ok());
  for (int round = 0; round < 64; ++round) {
    if (coap_->process() == 0) break;
  }
  if (batch) {
    if (auto committed = batch->commit(); !committed) {
      throw std::runtime_error("commit: " + committed.error().message);
    }
  }
  coap_->setDeferResponses(false);
  coap_->flushResponses();
  downlink_->flush();
}

void Gateway::pump(std::chrono::milliseconds duration) {
  const auto deadline = std::chrono::steady_clock::now() + duration;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline - std::chrono::steady_clock::now())
                          .count();
    pollfd p{coap_->fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::clamp<long long>(left, 0, 10)));
    // libcoap's retransmission timer is in its epoll fd too, so readable covers both; a
    // process() without work costs nothing.
    processBatch();
    if (auto next = downlink_->nextTimer(); next && *next <= std::chrono::steady_clock::now()) {
      downlink_->tick();
      downlink_->flush();
    }
    if (left <= 0) return;
  }
}

bool Gateway::pumpUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    if (std::chrono::steady_clock::now() >= deadline) return cond();
    pump(10ms);
  }
  return true;
}

Result<core::DownlinkQueue::Submitted> Gateway::submit(core::DownlinkRequest request) {
  auto tx = db::Transaction::begin(db_->connection());
  if (!tx) return tx.error();
  auto submitted = downlink_->queue().submit(std::move(request));
  if (auto c = tx->commit(); !c) return c.error();
  downlink_->flush();
  return submitted;
}

std::optional<core::DownlinkRequest> Gateway::request(std::int64_t id) {
  auto requests = db::SqliteRequestStore::create(db_->connection());
  if (!requests) return std::nullopt;
  auto found = (*requests)->findRequest(id);
  if (!found || !*found) return std::nullopt;
  return **found;
}

// ---- Sim ----

Sim::Sim(const std::string& outPath, const std::vector<std::string>& args) : outPath_(outPath) {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  // Truncated here, before the child exists: lines() must never see an earlier sim's output
  // under the same name.
  const int out = ::open(outPath.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  const int err =
      ::open((outPath + ".err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create " + outPath);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipeFds[0], 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<std::string> argv{LWGATE_SIM_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execv(raw[0], raw.data());
    ::_exit(127);
  }
  ::close(pipeFds[0]);
  ::close(out);
  ::close(err);
  input_ = pipeFds[1];
}

Sim::~Sim() {
  closeInput();
  if (pid_ > 0) wait(5s);
}

void Sim::send(const std::string& action) {
  const std::string line = action + "\n";
  if (input_ < 0 ||
      ::write(input_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    throw std::runtime_error("cannot write to the sim");
  }
}

void Sim::closeInput() {
  if (input_ >= 0) ::close(input_);
  input_ = -1;
}

int Sim::wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (::waitpid(pid_, &status, WNOHANG) != pid_) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(10ms);
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

void Sim::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::vector<std::string> Sim::lines() const {
  std::ifstream in(outPath_);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

std::size_t Sim::count(const std::string& needle) const {
  std::size_t n = 0;
  for (const auto& line : lines()) n += line.find(needle) != std::string::npos ? 1 : 0;
  return n;
}

}  // namespace lwgate::e2e::inproc
