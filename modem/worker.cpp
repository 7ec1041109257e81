#include "modem/worker.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gateway/util/log.h"

namespace lwgate::modem {
namespace {

// The longest the thread sleeps without looking at its timers: a guard, not a schedule.
constexpr core::Millis kMaxWait{60'000};

double seconds(core::Millis d) {
  return static_cast<double>(d.count()) / 1000.0;
}

}  // namespace

Result<std::unique_ptr<Worker>> Worker::start(std::unique_ptr<Backend> backend,
                                              const WorkerConfig& config,
                                              const core::Clock& clock) {
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    return makeError(ErrorCode::kInternal,
                     std::string("cannot create the modem eventfd: ") + std::strerror(errno));
  }
  std::unique_ptr<Worker> w(new Worker(std::move(backend), config, clock, fd));
  w->thread_ = std::thread([raw = w.get()] { raw->run(); });
  return w;
}

Worker::Worker(std::unique_ptr<Backend> backend, const WorkerConfig& config,
               const core::Clock& clock, int eventFd)
    : backend_(std::move(backend)),
      config_(config),
      clock_(clock),
      eventFd_(eventFd),
      reassembler_(clock, config.reassembly),
      backoff_(config.reconnectMin) {}

Worker::~Worker() {
  stop();
  if (eventFd_ >= 0) ::close(eventFd_);
}

void Worker::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Worker::send(SendJob job) {
  {
    std::lock_guard lock(mutex_);
    commands_.emplace_back(std::move(job));
  }
  wake_.notify_all();
}

void Worker::remove(std::vector<std::uint64_t> handles) {
  if (handles.empty()) return;
  {
    std::lock_guard lock(mutex_);
    commands_.emplace_back(Remove{std::move(handles)});
  }
  wake_.notify_all();
}

std::vector<WorkerEvent> Worker::takeEvents() {
  std::uint64_t count;
  (void)!::read(eventFd_, &count, sizeof count);  // EAGAIN when nothing was posted: fine
  std::lock_guard lock(mutex_);
  return std::exchange(events_, {});
}

void Worker::post(WorkerEvent event) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
  }
  const std::uint64_t one = 1;
  (void)!::write(eventFd_, &one, sizeof one);
}

void Worker::setHealth(Health health) {
  if (health == health_) return;
  health_ = std::move(health);
  post(health_);
}

void Worker::run() {
  nextConnect_ = clock_.steadyNow();
  for (;;) {
    std::deque<Command> commands;
    {
      std::unique_lock lock(mutex_);
      const core::SteadyTime now = clock_.steadyNow();
      core::SteadyTime until = now + kMaxWait;
      if (!backend_->connected()) {
        until = std::min(until, nextConnect_);
      } else {
        until = std::min({until, nextPoll_, nextHealth_});
        if (auto d = reassembler_.nextDeadline()) until = std::min(until, *d);
      }
      // The clock is injected but waits are real: convert the remaining time.
      wake_.wait_for(lock, std::max(until - now, core::SteadyTime::duration::zero()),
                     [&] { return stopping_ || !commands_.empty(); });
      if (stopping_) break;
      commands.swap(commands_);
    }
    if (!backend_->connected() && clock_.steadyNow() >= nextConnect_) connect();
    // Each command is bounded by its own backend timeouts; the queue only holds what the main
    // loop asked for (one trigger per device at a time).
    for (const auto& c : commands) {
      if (const auto* job = std::get_if<SendJob>(&c)) {
        doSend(*job);
      } else {
        doRemove(std::get<Remove>(c).handles);
      }
    }
    if (backend_->connected() && clock_.steadyNow() >= nextPoll_) poll();
    reportDropped(reassembler_.expire());
    if (backend_->connected() && clock_.steadyNow() >= nextHealth_) checkHealth();
  }
  backend_->disconnect();
}

void Worker::connect() {
  auto connected = backend_->connect();
  const core::SteadyTime now = clock_.steadyNow();
  if (!connected) {
    Health h = health_;
    h.connected = false;
    h.error = connected.error().message;
    if (health_.connected || health_.error != h.error) {
      log::warning("LWG5001 modem not available, retrying in {:g}s: {}", seconds(backoff_),
                   h.error);
    }
    setHealth(std::move(h));
    nextConnect_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, config_.reconnectMax);
    return;
  }
  backoff_ = config_.reconnectMin;
  Health h = *connected;
  h.connected = true;
  h.error.clear();
  (void)backend_->check(h);  // what it can tell; the fields stay "unknown" otherwise
  log::notice("LWG5000 modem connected: {} {} (SIM {}, network {}, signal {})", h.manufacturer,
              h.model, h.sim, h.network,
              h.signalPercent ? std::to_string(*h.signalPercent) + "%" : "unknown");
  setHealth(std::move(h));
  nextPoll_ = now;
  nextHealth_ = now + config_.healthInterval;
  if (!unremoved_.empty()) doRemove(std::exchange(unremoved_, {}));
}

void Worker::lost(const std::string& why) {
  backend_->disconnect();
  Health h = health_;
  h.connected = false;
  h.error = why;
  log::warning("LWG5002 modem connection lost, reconnecting in {:g}s: {}", seconds(backoff_), why);
  setHealth(std::move(h));
  nextConnect_ = clock_.steadyNow() + backoff_;
  backoff_ = std::min(backoff_ * 2, config_.reconnectMax);
}

void Worker::doSend(const SendJob& job) {
  SendDone done{job.id, job.msisdn, false, std::nullopt, 0, {}};
  if (!backend_->connected()) {
    done.error = "no modem: " + (health_.error.empty() ? "not connected" : health_.error);
    post(std::move(done));
    return;
  }
  for (const auto& part : job.parts) {
    auto mr = backend_->sendPart(job.msisdn, part, config_.send);
    if (!mr) {
      done.error = mr.error().message;
      post(std::move(done));
      if (!backend_->connected()) lost(mr.error().message);
      return;
    }
    done.reference = *mr;
    ++done.partsSent;
  }
  done.ok = true;
  post(std::move(done));
}

void Worker::doRemove(const std::vector<std::uint64_t>& handles) {
  for (std::size_t k = 0; k < handles.size(); ++k) {
    if (!backend_->connected()) {
      unremoved_.insert(unremoved_.end(), handles.begin() + static_cast<std::ptrdiff_t>(k),
                        handles.end());
      return;
    }
    if (auto r = backend_->remove(handles[k]); !r) {
      log::warning("LWG5003 cannot delete SMS {} from the modem: {}", handles[k],
                   r.error().message);
      if (!backend_->connected()) {
        lost(r.error().message);
        unremoved_.insert(unremoved_.end(), handles.begin() + static_cast<std::ptrdiff_t>(k),
                          handles.end());
        return;
      }
    }
    seen_.erase(handles[k]);
  }
}

void Worker::reportDropped(std::vector<Dropped> dropped) {
  for (auto& d : dropped) {
    std::vector<std::uint64_t> handles = d.handles;
    post(DroppedParts{std::move(d)});
    doRemove(handles);
  }
}

void Worker::poll() {
  nextPoll_ = clock_.steadyNow() + config_.pollInterval;
  auto stored = backend_->list();
  if (!stored) {
    if (!backend_->connected()) {
      lost(stored.error().message);
    } else if (stored.error().message != listError_) {
      // Once per different error: a modem that keeps failing the same way would otherwise
      // log it at every poll.
      log::warning("LWG5004 cannot list the SMS stored on the modem: {}", stored.error().message);
    }
    listError_ = stored.error().message;
    return;
  }
  listError_.clear();
  std::set<std::uint64_t> undecodable;  // listed now as undecodable
  for (auto& sms : *stored) {
    if (!seen_.insert(sms.handle).second) continue;  // handled already, waiting for removal
    switch (sms.kind) {
      case StoredSms::Kind::kStatusReport:
        post(DeliveryReport{sms.msisdn, sms.reference, sms.status});
        doRemove({sms.handle});
        break;
      case StoredSms::Kind::kOther:
        break;  // sent or draft messages someone stored: not ours to delete
      case StoredSms::Kind::kUndecodable:
        seen_.erase(sms.handle);  // a readable SMS in its place later is handled as usual
        undecodable.insert(sms.handle);
        if (undeletable_.count(sms.handle)) break;  // reported once already
        post(DroppedParts{{"(unknown)",
                           "the modem holds an SMS that cannot be decoded (" + sms.detail + ")",
                           {sms.handle}}});
        // Left on the modem it fills the SIM's store (often 20 to 50 messages) until real SMS
        // cannot arrive. gammu's AT driver reads a message before deleting it and gives up on
        // one it cannot decode; then it stays, reported once, not at every poll.
        if (auto r = backend_->remove(sms.handle); !r) {
          if (!backend_->connected()) {
            lost(r.error().message);
            return;
          }
          log::warning("LWG5003 cannot delete SMS {} from the modem, leaving it there: {}",
                       sms.handle, r.error().message);
          undeletable_.insert(sms.handle);
        }
        break;
      case StoredSms::Kind::kDeliver: {
        if (!sms.eightBit) {
          reportDropped({{sms.msisdn, "a text SMS, not 8-bit data", {sms.handle}}});
          break;
        }
        auto out =
            reassembler_.add({sms.msisdn, std::move(sms.header), std::move(sms.data), sms.handle});
        reportDropped(std::move(out.dropped));
        if (out.complete) post(ReceivedMessage{std::move(*out.complete)});
        break;
      }
    }
    if (!backend_->connected()) return;
  }
  std::erase_if(undeletable_, [&](std::uint64_t h) { return !undecodable.count(h); });
}

void Worker::checkHealth() {
  nextHealth_ = clock_.steadyNow() + config_.healthInterval;
  Health h = health_;
  auto checked = backend_->check(h);
  if (!checked && !backend_->connected()) {
    lost(checked.error().message);
    return;
  }
  setHealth(std::move(h));
}

}  // namespace lwgate::modem
