#include "gateway/daemon/daemon.h"

#include <signal.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>

#include "db/checkpointer.h"
#include "db/database.h"
#include "db/device_settings_store.h"
#include "db/maintenance.h"
#include "db/registration_store.h"
#include "gateway/coap/server.h"
#include "gateway/core/registration_interface.h"
#include "gateway/core/registry.h"
#include "gateway/core/send.h"
#include "gateway/core/submission.h"
#include "gateway/daemon/bridge.h"
#include "gateway/daemon/downlink.h"
#include "gateway/daemon/security.h"
#include "gateway/daemon/sms.h"
#include "gateway/daemon/sms_transport.h"
#include "gateway/dbus/service.h"
#include "gateway/lwm2m/diagnostic.h"
#include "gateway/util/log.h"
#include "lwgate/version.h"

namespace lwgate::daemon {
namespace {

// Location ids: 10 characters of [a-z0-9] from the kernel's CSPRNG (about 51 bits), so a peer on
// the LAN cannot guess another device's location and update or de-register it.
std::string randomLocation() {
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char bytes[10];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n > 0) got += static_cast<std::size_t>(n);
  }
  std::string out;
  for (unsigned char b : bytes) out.push_back(kAlphabet[b % 36]);
  return out;
}

std::string peerText(const core::Peer& p) {
  if (p.transport == "sms") return "sms:" + p.address;  // the SMS binding: an MSISDN, no port
  return p.address.find(':') != std::string::npos ? "[" + p.address + "]:" + std::to_string(p.port)
                                                  : p.address + ":" + std::to_string(p.port);
}

std::string pathText(const core::Request& r) {
  std::string out;
  for (auto seg : r.uriPath) (out += '/') += seg;
  return out.empty() ? "/" : out;
}

const char* methodText(core::Method m) {
  switch (m) {
    case core::Method::kGet:
      return "GET";
    case core::Method::kPost:
      return "POST";
    case core::Method::kPut:
      return "PUT";
    case core::Method::kDelete:
      return "DELETE";
    case core::Method::kFetch:
      return "FETCH";
    case core::Method::kPatch:
      return "PATCH";
    case core::Method::kIPatch:
      return "iPATCH";
  }
  return "?";
}

class Daemon final : public core::RegistryListener,
                     public dbus::Backend,
                     public DownlinkEvents,
                     public SmsDevices,
                     public SmsTransportHost {
 public:
  Daemon(Config config, Overrides overrides, std::string configSource)
      : config_(std::move(config)),
        overrides_(std::move(overrides)),
        configSource_(std::move(configSource)) {}

  ~Daemon() override {
    dropBus();
    if (busRetrySource_) sd_event_source_unref(busRetrySource_);
    if (coapSource_) sd_event_source_unref(coapSource_);
    if (queueSource_) sd_event_source_unref(queueSource_);
    if (bridgeSource_) sd_event_source_unref(bridgeSource_);
    if (modemSource_) sd_event_source_unref(modemSource_);
    if (wakeScanSource_) sd_event_source_unref(wakeScanSource_);
    if (smsTimerSource_) sd_event_source_unref(smsTimerSource_);
    if (expirySource_) sd_event_source_unref(expirySource_);
    for (auto& b : backups_) {
      sd_event_source_unref(b.source);
      log::warning("LWG1012 backup of the database to {} failed: lwgated is stopping",
                   b.job->destPath());
    }
    backups_.clear();  // stops and joins the copies before the database closes
    if (event_) sd_event_unref(event_);
  }

  int run() {
    log::notice("LWG1001 lwgated {} starting (config: {}, database: {})", kVersion,
                configSource_.empty() ? "built-in defaults" : configSource_, config_.database);
    if (int rc = setUpLoop(); rc < 0) {
      log::error("LWG1090 cannot set up the event loop: {}", std::strerror(-rc));
      return 1;
    }
    if (auto started = start(); !started) {
      log::error("LWG1091 cannot start: {}", started.error().message);
      return 1;
    }
    connectBus();
    log::notice("LWG1000 lwgated {} ready: {} devices registered", kVersion, registry_->size());
    notifyStatus("READY=1\n");
    int rc = sd_event_loop(event_);
    sd_notify(0, "STOPPING=1");
    // Answers held for a group commit: persisted, so a clean stop sends none of them again.
    downlink_->persistHeld();
    downlink_->flush();
    if (rc < 0) {
      log::error("LWG1092 event loop failed: {}", std::strerror(-rc));
      return 1;
    }
    log::notice("LWG1003 lwgated stopped");
    return 0;
  }

  // RegistryListener: one log line per change, at the place that decided it.
  void registered(const core::Registration& r, const core::Registration* replaced) override {
    log::info(
        "LWG2001 registered endpoint={} location=rd/{} from={} lifetime={}s{} lwm2m={} "
        "binding={}{} objects={}{}",
        r.endpoint, r.location, peerText(r.peer), r.lifetime,
        r.lifetimeSyncPending ? " (default, lt absent)" : "", r.version, r.binding.text,
        r.queueMode() ? " queue-mode" : "", r.objects.links.size(),
        replaced ? " replaces=rd/" + replaced->location : "");
    downlink_->registered(r, replaced);
    afterCommit([this, r] { bridge_->deviceRegistered(r); });
    if (sms_) sms_->deviceHeard(r.endpoint);
    toBus(
        [r, replaced = replaced != nullptr](dbus::Service& b) { b.deviceRegistered(r, replaced); });
  }
  void updated(const core::Registration& r, const core::Peer& previousPeer) override {
    log::debug("LWG2003 updated endpoint={} location=rd/{} from={} lifetime={}s", r.endpoint,
               r.location, peerText(r.peer), r.lifetime);
    downlink_->updated(r, previousPeer);
    afterCommit([this, r] { bridge_->deviceRegistered(r); });
    if (sms_) sms_->deviceHeard(r.endpoint);
    toBus([r](dbus::Service& b) { b.deviceUpdated(r); });
  }
  void deregistered(const core::Registration& r) override {
    log::info("LWG2004 de-registered endpoint={} location=rd/{}", r.endpoint, r.location);
    downlink_->gone(r);
    afterCommit([this, r] { bridge_->deviceGone(r); });
    toBus([r](dbus::Service& b) { b.deviceRemoved(r, false); });
  }
  void expired(const core::Registration& r) override {
    log::info("LWG2005 registration expired endpoint={} location=rd/{} (no Update within {}s)",
              r.endpoint, r.location, r.lifetime);
    downlink_->gone(r);
    afterCommit([this, r] { bridge_->deviceGone(r); });
    toBus([r](dbus::Service& b) { b.deviceRemoved(r, true); });
  }

  // DownlinkEvents: after the commit that made them true.
  void requestSent(std::int64_t id, const std::string& endpoint) override {
    if (bus_) bus_->requestProgress(id, endpoint, "sent");
  }
  void requestWaiting(std::int64_t id, const std::string& endpoint) override {
    if (bus_) {
      bus_->requestProgress(id, endpoint, "waiting");
      bus_->queueChanged(endpoint);
    }
  }
  void deviceReachability(const std::string& endpoint, bool reachable) override {
    log::debug("LWG3007 {} is {}", endpoint, reachable ? "awake" : "asleep");
    if (bus_) bus_->deviceAwake(endpoint, reachable);
    if (reachable && bridge_) bridge_->deviceWoke(endpoint);
    // Fell asleep with work left: perhaps an SMS should wake it (the policy decides).
    if (!reachable && sms_ && downlink_->queue().unfinished(endpoint) > 0) {
      sms_->wakeIfNeeded(endpoint);
    }
  }
  void requestFinished(const core::DownlinkRequest& r) override {
    if (bridge_) bridge_->requestFinished(r);
    if (bus_) bus_->requestFinished(r, core::renderResult(r, lwm2m::coreObjects()));
  }

  static Error unknownDevice(std::string_view endpoint) {
    return makeError(ErrorCode::kNotFound, "no device " + lwm2m::quoteForMessage(endpoint) +
                                               " (it never registered here)");
  }
  // Whether the endpoint has a device row (it registered once, or has requests queued).
  Result<void> requireKnownDevice(std::string_view endpoint) {
    auto known = downlink_->store().deviceKnown(endpoint);
    if (!known) return known.error();
    if (!*known) return unknownDevice(endpoint);
    return {};
  }

  // dbus::Backend
  Result<std::vector<std::int64_t>> submit(const std::vector<core::CallerRequest>& batch) override {
    auto where = [&](std::size_t k) {
      return batch.size() > 1 ? "request " + std::to_string(k) + ": " : std::string();
    };
    // Everything is checked before anything is stored.
    std::vector<core::DownlinkRequest> prepared;
    prepared.reserve(batch.size());
    const core::WallTime now = clock_.wallNow();
    for (std::size_t k = 0; k < batch.size(); ++k) {
      const auto& c = batch[k];
      const core::Registration* reg = registry_->findByEndpoint(c.endpoint);
      if (!reg) {
        if (auto known = requireKnownDevice(c.endpoint); !known) {
          return makeError(known.error().code, where(k) + known.error().message);
        }
      }
      auto r = core::prepareRequest(c, reg, lwm2m::coreObjects(), {}, now);
      if (!r) return makeError(r.error().code, where(k) + r.error().message);
      prepared.push_back(std::move(*r));
    }
    std::vector<std::int64_t> ids;
    std::vector<std::string> waiting;
    std::optional<Error> failure;
    {
      auto tx = db::Transaction::begin(db_->connection());
      if (!tx) return tx.error();
      for (std::size_t k = 0; k < prepared.size() && !failure; ++k) {
        const std::string endpoint = prepared[k].endpoint;
        auto s = downlink_->submit(std::move(prepared[k]));
        if (!s) {
          failure = makeError(s.error().code, where(k) + s.error().message);
        } else {
          ids.push_back(s->id);
          if (!s->existing && !downlink_->queue().reachable(endpoint)) {
            waiting.push_back(endpoint);
          }
        }
      }
      if (!failure) {
        if (auto committed = tx->commit(); !committed) failure = committed.error();
      }
    }  // rolled back unless committed
    if (failure) {
      // The queue's memory holds what the rollback undid: the database is the truth.
      if (!ids.empty()) reloadQueue();
      return *failure;
    }
    for (std::size_t k = 0; k < ids.size(); ++k) {
      if (bus_) bus_->queueChanged(batch[k].endpoint);
    }
    if (bus_) {
      for (std::size_t k = 0, w = 0; k < ids.size() && w < waiting.size(); ++k) {
        if (batch[k].endpoint == waiting[w]) {
          bus_->requestProgress(ids[k], waiting[w++], "waiting");
        }
      }
    }
    for (const auto& endpoint : waiting) sms_->wakeIfNeeded(endpoint);
    return ids;
  }

  Result<core::DownlinkRequest> request(std::int64_t id) override {
    // A caller reads what a crash would leave: answers held for a group commit are persisted
    // first (their signals follow at the flush after this call).
    downlink_->persistHeld();
    if (const auto* r = downlink_->queue().find(id)) return *r;
    auto stored = downlink_->store().findRequest(id);
    if (!stored) return stored.error();
    if (!*stored) return makeError(ErrorCode::kNotFound, "no request " + std::to_string(id));
    return std::move(**stored);
  }

  Result<std::vector<core::DownlinkRequest>> listRequests(
      const core::RequestFilter& filter) override {
    downlink_->persistHeld();  // as request()
    auto listed = downlink_->store().listRequests(filter);
    if (!listed) return listed.error();
    // The store has what was committed; attempts of requests in flight live in memory too.
    for (auto& r : *listed) {
      if (const auto* live = downlink_->queue().find(r.id)) r = *live;
    }
    return listed;
  }

  Result<void> cancel(std::int64_t id) override {
    auto known = request(id);
    if (!known) return known.error();
    if (core::isFinal(known->state)) {
      return makeError(ErrorCode::kPreconditionFailed,
                       "request " + std::to_string(id) + " is already " +
                           std::string(core::stateName(known->state)));
    }
    if (auto c = downlink_->queue().cancel(id, "cancelled over D-Bus"); !c) {
      return makeError(ErrorCode::kPreconditionFailed, c.error().message);
    }
    return {};
  }

  std::vector<core::Observation> listObservations(std::string_view endpoint) override {
    return downlink_->observations().listObservations(endpoint);
  }
  Result<void> forgetObservation(std::int64_t id) override {
    return downlink_->observations().forget(id);
  }
  Result<std::vector<core::Notification>> listNotifications(std::string_view endpoint,
                                                            std::size_t limit,
                                                            std::int64_t afterId) override {
    if (!registry_->findByEndpoint(endpoint)) {
      if (auto known = requireKnownDevice(endpoint); !known) return known.error();
    }
    return downlink_->observations().listNotifications(endpoint, limit, afterId);
  }
  Result<core::DeviceSettings> deviceSettings(std::string_view endpoint) override {
    auto loaded = settingsStore_->load(endpoint);
    if (!loaded) return loaded.error();
    if (!*loaded) return unknownDevice(endpoint);
    return std::move(**loaded);
  }
  Result<void> setDeviceSettings(std::string_view endpoint,
                                 const core::DeviceSettings& settings) override {
    if (auto saved = settingsStore_->save(endpoint, settings); !saved) return saved;
    std::string ep(endpoint);
    if (settings == core::DeviceSettings{}) {
      settings_.erase(ep);
    } else {
      settings_[ep] = settings;
    }
    downlink_->queue().setAwakeWindow(endpoint, settings.awakeWindow);
    log::info("LWG2011 settings of {} changed: awake_window={} sms_number={} server_instance={}",
              ep, settings.awakeWindow ? std::to_string(settings.awakeWindow->count()) + "ms" : "-",
              settings.smsNumber.empty() ? "-" : settings.smsNumber,
              settings.serverInstance ? std::to_string(*settings.serverInstance) : "-");
    return {};
  }

  void backup(const std::string& path, std::function<void(Result<void>)> done) override {
    if (path.empty() || path.front() != '/') {
      done(makeError(ErrorCode::kBadRequest,
                     "backup path " + lwm2m::quoteForMessage(path) +
                         " is not absolute (lwgated writes it; give the full path)"));
      return;
    }
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
      done(makeError(ErrorCode::kBadRequest, path + " exists; not replacing it"));
      return;
    }
    auto job = db::BackupJob::start(db_->path(), path);
    if (!job) {
      log::warning("LWG1012 backup of the database to {} failed: {}", path, job.error().message);
      done(job.error());
      return;
    }
    sd_event_source* source = nullptr;
    int rc = sd_event_add_io(event_, &source, (*job)->fd(), EPOLLIN, &Daemon::onBackupDone, this);
    if (rc < 0) {
      done(makeError(ErrorCode::kInternal, "cannot watch the backup thread"));
      return;  // the job stops and joins as it goes
    }
    log::info("LWG1010 backup of the database to {} started", path);
    backups_.push_back({std::move(*job), source, std::move(done), clock_.steadyNow()});
  }

  Result<void> addPsk(std::string_view identity, std::span<const std::uint8_t> key,
                      std::string_view endpoint) override {
    return security_->addPsk(identity, key, endpoint);
  }
  Result<void> removePsk(std::string_view identity) override {
    return security_->removePsk(identity);
  }
  Result<std::vector<core::PskInfo>> listPsks(std::string_view endpoint,
                                              std::size_t limit) override {
    return security_->listPsks(endpoint, limit);
  }
  Result<void> addUpstreamPsk(std::string_view server, std::string_view endpoint,
                              const std::optional<std::string>& identity,
                              std::span<const std::uint8_t> key) override {
    // A typo in the server would store a key nobody uses: only configured coaps:// servers.
    const bridge::UpstreamConfig* c = bridge_ ? bridge_->registrations().server(server) : nullptr;
    if (!c || !c->dtls()) {
      std::vector<std::string> coaps;
      if (bridge_) {
        for (const auto& u : bridge_->registrations().servers()) {
          if (u.dtls()) coaps.push_back(u.uri);
        }
      }
      return makeError(
          ErrorCode::kBadRequest,
          lwm2m::quoteForMessage(server, 120) +
              " is not a coaps:// [[upstream]] server of this gateway (configured: " +
              (coaps.empty() ? std::string("none") : fmt::format("{}", fmt::join(coaps, ", "))) +
              ")");
    }
    if (auto added = security_->addUpstreamPsk(server, endpoint, identity, key); !added) {
      return added;
    }
    bridge_->credentialsChanged(std::string(server), std::string(endpoint));
    rearmTimers();
    return {};
  }
  Result<void> removeUpstreamPsk(std::string_view server, std::string_view endpoint) override {
    return security_->removeUpstreamPsk(server, endpoint);
  }
  Result<std::vector<core::UpstreamPskInfo>> listUpstreamPsks(std::string_view server,
                                                              std::size_t limit) override {
    return security_->listUpstreamPsks(server, limit);
  }
  Result<Wake> wake(std::string_view endpoint, bool force) override {
    if (!registry_->findByEndpoint(endpoint)) {
      if (auto known = requireKnownDevice(endpoint); !known) return known.error();
    }
    auto woken = sms_->wakeNow(endpoint, force);
    if (!woken) return woken.error();
    return Wake{woken->smsId, woken->decision.verdict, woken->decision.budget,
                woken->decision.reason};
  }
  std::vector<UpstreamServer> upstreamServers() override {
    std::vector<UpstreamServer> out;
    if (!bridge_) return out;
    const auto links = bridge_->registrations().list();
    for (const auto& c : bridge_->registrations().servers()) {
      UpstreamServer u;
      u.uri = c.uri;
      u.devices = c.devices;
      u.queueMode = std::string(bridge::queueModeName(c.queueMode));
      if (c.dtls()) u.psk = std::string(bridge::pskModeName(c.pskMode));
      u.lifetime = c.lifetime;
      u.holdOff = c.holdOff;
      for (const auto& l : links) {
        if (l.server != c.uri) continue;
        ++u.links;
        if (l.registered) ++u.registered;
        if (l.failures > 0) {
          ++u.failing;
          if (!l.lastError.empty()) u.lastError = l.lastError;
        }
      }
      out.push_back(std::move(u));
    }
    return out;
  }
  std::vector<UpstreamLink> upstreamLinks(std::string_view endpoint) override {
    std::vector<UpstreamLink> out;
    if (!bridge_) return out;
    for (const auto& l : bridge_->registrations().list(endpoint)) {
      UpstreamLink u;
      u.server = l.server;
      u.endpoint = l.device;
      u.upstreamEndpoint = l.upstreamEndpoint;
      u.state = std::string(bridge::linkStateName(l.state));
      u.registered = l.registered;
      for (const auto& segment : l.location) (u.location += '/') += segment;
      u.failures = l.failures;
      u.lastError = l.lastError;
      if (l.updatedAt) u.updatedMs = static_cast<std::uint64_t>(core::toUnixMillis(*l.updatedAt));
      out.push_back(std::move(u));
    }
    return out;
  }
  Result<std::vector<core::SmsLogEntry>> listSms(const core::SmsLogFilter& filter) override {
    if (filter.endpoint && !registry_->findByEndpoint(*filter.endpoint)) {
      if (auto known = requireKnownDevice(*filter.endpoint); !known) return known.error();
    }
    return sms_->list(filter);
  }

  Totals totals() override {
    return {.devices = static_cast<std::uint32_t>(registry_->size()),
            .queued = static_cast<std::uint32_t>(downlink_->queue().totalUnfinished()),
            .inFlight = static_cast<std::uint32_t>(downlink_->queue().totalInFlight())};
  }
  std::vector<std::string> listenUrls() override { return listenUrls_; }
  std::uint64_t uptimeSeconds() override {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<core::Seconds>(clock_.steadyNow() - startedAt_).count());
  }
  const core::Registration* registration(std::string_view endpoint) override {
    return registry_->findByEndpoint(endpoint);
  }
  bool awake(std::string_view endpoint) override { return downlink_->queue().reachable(endpoint); }
  std::uint32_t unfinished(std::string_view endpoint) override {
    return static_cast<std::uint32_t>(downlink_->queue().unfinished(endpoint));
  }

 private:
  int setUpLoop() {
    int rc = sd_event_default(&event_);
    if (rc < 0) return rc;
    // Signals are delivered through the loop (signalfd), so they must be blocked first.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&mask, s);
    if (sigprocmask(SIG_BLOCK, &mask, nullptr) < 0) return -errno;
    signal(SIGPIPE, SIG_IGN);
    for (int s : {SIGTERM, SIGINT, SIGHUP}) {
      rc = sd_event_add_signal(event_, nullptr, s, &Daemon::onSignal, this);
      if (rc < 0) return rc;
    }
    // Under systemd with WatchdogSec=, the loop pings the watchdog itself; a stuck loop stops
    // pinging and systemd restarts us. Without a watchdog this does nothing.
    rc = sd_event_set_watchdog(event_, 1);
    if (rc < 0) return rc;
    rc = sd_event_add_time(event_, &expirySource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                           &Daemon::onExpiryTimer, this);
    if (rc < 0) return rc;
    return sd_event_source_set_enabled(expirySource_, SD_EVENT_OFF);
  }

  Result<void> start() {
    // One lwgated per database, and none while lwgated --restore replaces it.
    auto lock = db::DatabaseLock::acquire(config_.database, true);
    if (!lock) return lock.error();
    dbLock_.emplace(std::move(*lock));
    db::DatabaseOptions dbOptions;
    dbOptions.synchronous =
        config_.databaseSyncFull ? db::Synchronous::kFull : db::Synchronous::kNormal;
    auto database = db::openDatabase(config_.database, dbOptions);
    if (!database) return database.error();
    db_.emplace(std::move(*database));
    const auto& mig = db_->migration();
    if (mig.fromVersion != mig.toVersion) {
      log::notice("LWG1004 database schema migrated from version {} to {}{}", mig.fromVersion,
                  mig.toVersion, mig.backupPath.empty() ? "" : " (backup: " + mig.backupPath + ")");
    }
    if (mig.fixedMode != 0) {
      log::warning("LWG7003 database {} had mode {:04o}; made it 0600 (it holds DTLS keys)",
                   config_.database, mig.fixedMode);
    }
    auto checkpointer = db::Checkpointer::start(db_->connection());
    if (!checkpointer) return checkpointer.error();
    checkpointer_ = std::move(*checkpointer);
    auto store = db::SqliteRegistrationStore::create(db_->connection());
    if (!store) return store.error();
    store_ = std::move(*store);
    security_ = std::make_unique<Security>(clock_, db_->connection(), securityConfig());
    if (auto opened = security_->open(); !opened) return opened;

    coap::Server::routeLibraryLog(log::enabled(log::Level::kDebug) ? log::Level::kInfo
                                                                   : log::Level::kWarning);
    auto server = coap::Server::create(
        clock_,
        {.ackTimeout = config_.ackTimeout,
         .maxRetransmit = config_.maxRetransmit,
         .maxUploadBody = config_.maxPayload},  // Block1 bodies: the Register limit
        [this](const core::Request& r) { return handle(r); });
    if (!server) return server.error();
    coap_ = std::move(*server);

    downlink_ = std::make_unique<Downlink>(clock_, db_->connection(), *coap_, queueConfig(),
                                           observationConfig());
    downlink_->setEvents(this);
    downlink_->observations().setNotificationHook([this](const core::Notification& n) {
      if (bridge_) bridge_->notification(n);
      if (bus_) bus_->notification(n);
    });
    auto settingsStore = db::SqliteDeviceSettingsStore::create(db_->connection());
    if (!settingsStore) return settingsStore.error();
    settingsStore_ = std::move(*settingsStore);
    auto allSettings = settingsStore_->loadAll();
    if (!allSettings) return allSettings.error();
    for (auto& [ep, s] : *allSettings) settings_[ep] = std::move(s);
    downlink_->setAwakeWindowLookup([this](std::string_view ep) -> std::optional<core::Millis> {
      auto it = settings_.find(ep);
      return it == settings_.end() ? std::nullopt : it->second.awakeWindow;
    });
    if (auto opened = downlink_->open(); !opened) return opened.error();
    auto restored = loadRegistry();
    if (!restored) return restored.error();
    for (const auto& r : restored->expired) expired(r);
    registry_->forEach([this](const core::Registration& r) { downlink_->restored(r); });
    bridge_ = std::make_unique<Bridge>(clock_, db_->connection(), *coap_, bridgeTiming());
    if (auto opened = bridge_->open(config_.upstreams); !opened) return opened.error();
    bridge_->setDownlink(downlink_.get());
    bridge_->setRegistry(registry_.get());
    bridge_->setPskSource(
        [this](std::string_view server,
               std::string_view endpoint) -> Result<std::optional<Bridge::StoredPsk>> {
          auto found = security_->upstreamPsk(server, endpoint);
          if (!found) return found.error();
          if (!*found) return std::optional<Bridge::StoredPsk>();
          return std::optional<Bridge::StoredPsk>(
              Bridge::StoredPsk{std::move((*found)->identity), std::move((*found)->key)});
        });
    registry_->forEach([this](const core::Registration& r) { bridge_->restored(r); });
    log::notice("LWG1005 restored {} registrations from the database ({} expired while stopped)",
                restored->active, restored->expired.size());

    if (!config_.listenDtls.empty()) {
      auto psk = coap_->enablePsk([this](std::string_view identity, const core::Peer& peer) {
        return security_->pskFor(identity, peer);
      });
      if (!psk) return psk;
    }
    for (bool dtls : {false, true}) {
      for (const auto& text : dtls ? config_.listenDtls : config_.listen) {
        auto address = coap::parseListenAddress(text);
        if (!address) return address.error();
        auto urls = dtls ? coap_->listenDtls(*address) : coap_->listenUdp(*address);
        if (!urls) return urls.error();
        for (const auto& url : *urls) {
          log::notice("LWG1002 listening on {}", url);
          listenUrls_.push_back(url);
        }
      }
    }
    int rc = sd_event_add_io(event_, &coapSource_, coap_->fd(), EPOLLIN, &Daemon::onCoapIo, this);
    if (rc < 0) return makeError(ErrorCode::kInternal, "cannot watch the CoAP sockets");
    rc = sd_event_add_time(event_, &queueSource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                           &Daemon::onQueueTimer, this);
    if (rc < 0) return makeError(ErrorCode::kInternal, "cannot add the queue timer");
    sd_event_source_set_enabled(queueSource_, SD_EVENT_OFF);
    if (auto started = startSms(); !started) return started;
    // 1 ms accuracy, not sd-event's default of 250 ms: the bridge's timer paces upstream
    // Registers (registrations_per_second), and firing up to 250 ms late held a rate of 50 per
    // second down to about 4.
    rc = sd_event_add_time(event_, &bridgeSource_, CLOCK_MONOTONIC, UINT64_MAX, 1000,
                           &Daemon::onBridgeTimer, this);
    if (rc < 0) return makeError(ErrorCode::kInternal, "cannot add the bridge timer");
    sd_event_source_set_enabled(bridgeSource_, SD_EVENT_OFF);
    bridge_->start();
    downlink_->flush();
    rearmTimers();
    return {};
  }

  // SMS (issue 5): the modem thread reports through its eventfd; the wake scan looks for
  // sleeping devices whose requests still wait - every [sms] wake_scan_interval (after a
  // restart, a budget that freed up) and when the earliest back-off ends, so a device whose
  // trigger went unanswered gets its next one on time without any other event.
  Result<void> startSms() {
    sms_ = std::make_unique<Sms>(clock_, db_->connection(), smsConfig(), *this);
    if (auto opened = sms_->open(); !opened) return opened;
    // The SMS binding: CoAP by SMS in both directions (sms_transport.h).
    smsTransport_ = std::make_unique<SmsTransport>(clock_, smsTransportConfig(), *sms_, *this);
    sms_->setUplink(smsTransport_.get());
    downlink_->setSmsRoute(smsTransport_.get());
    int timer = sd_event_add_time(event_, &smsTimerSource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                                  &Daemon::onSmsTimer, this);
    if (timer < 0) return makeError(ErrorCode::kInternal, "cannot add the SMS binding's timer");
    sd_event_source_set_enabled(smsTimerSource_, SD_EVENT_OFF);
    if (!config_.smsAllow.empty() || sms_->eventFd() >= 0) {
      log::info(
          "LWG5309 SMS binding: CoAP by SMS from devices' numbers and {} allowed number(s), at "
          "most {} per number and hour; answers to requests by SMS awaited {}s",
          config_.smsAllow.size(), config_.smsIncomingPerHour, config_.smsResponseTimeout);
    }
    if (sms_->eventFd() >= 0) {
      int rc = sd_event_add_io(event_, &modemSource_, sms_->eventFd(), EPOLLIN,
                               &Daemon::onModemEvent, this);
      if (rc < 0) return makeError(ErrorCode::kInternal, "cannot watch the modem thread");
      rc = sd_event_add_time(event_, &wakeScanSource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                             &Daemon::onWakeScan, this);
      if (rc < 0) return makeError(ErrorCode::kInternal, "cannot add the wake-up timer");
      sd_event_source_set_enabled(wakeScanSource_, SD_EVENT_OFF);
      lastWakeScan_ = clock_.steadyNow();
    }
    return {};
  }

  SmsTransportConfig smsTransportConfig() const {
    SmsTransportConfig c;
    c.allow.insert(config_.smsAllow.begin(), config_.smsAllow.end());
    c.incomingPerHour = static_cast<unsigned>(config_.smsIncomingPerHour);
    c.responseTimeout = core::Millis(static_cast<std::int64_t>(config_.smsResponseTimeout * 1000));
    return c;
  }

  std::optional<core::SteadyTime> nextWakeScan() const {
    const auto interval = std::chrono::duration_cast<core::SteadyTime::duration>(
        std::chrono::duration<double>(config_.smsWakeScanInterval));
    const core::SteadyTime periodic = lastWakeScan_ + interval;
    const auto backOffEnd = sms_->nextBackOffEnd();
    return backOffEnd ? std::min(periodic, *backOffEnd) : periodic;
  }
  void armWakeScan() {
    if (wakeScanSource_) armTimer(wakeScanSource_, nextWakeScan(), &armedWakeScan_);
  }

  SmsConfig smsConfig() const {
    SmsConfig c;
    c.backend = config_.modemBackend;
    c.gammuConfig = config_.gammuConfig;
    c.pollInterval = core::Millis(static_cast<std::int64_t>(config_.modemPollInterval * 1000));
    c.wake.backoff = core::Seconds(static_cast<std::int64_t>(config_.smsBackoff));
    c.wake.perDevicePerHour = static_cast<unsigned>(config_.smsPerDevicePerHour);
    c.wake.perDevicePerDay = static_cast<unsigned>(config_.smsPerDevicePerDay);
    c.wake.globalPerDay = static_cast<unsigned>(config_.smsGlobalPerDay);
    c.validity = core::Seconds(static_cast<std::int64_t>(config_.smsValidity));
    return c;
  }

  // Backup: each copy runs on a thread with its own read-only connection (db::BackupJob) and
  // reports through an eventfd; the D-Bus reply goes out from here, on the main loop.
  struct RunningBackup {
    std::unique_ptr<db::BackupJob> job;
    sd_event_source* source = nullptr;
    std::function<void(Result<void>)> done;
    core::SteadyTime startedAt;
  };

  static int onBackupDone(sd_event_source* source, int, uint32_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    auto it = std::find_if(self->backups_.begin(), self->backups_.end(),
                           [&](const RunningBackup& b) { return b.source == source; });
    if (it == self->backups_.end()) return 0;
    RunningBackup b = std::move(*it);
    self->backups_.erase(it);
    sd_event_source_disable_unref(b.source);
    auto result = b.job->result();
    const auto ms =
        std::chrono::duration_cast<core::Millis>(self->clock_.steadyNow() - b.startedAt);
    if (result) {
      log::notice("LWG1011 database backed up to {}: schema version {}, {} bytes, {} ms",
                  b.job->destPath(), result->schemaVersion, result->bytes, ms.count());
      b.done({});
    } else {
      log::warning("LWG1012 backup of the database to {} failed: {}", b.job->destPath(),
                   result.error().message);
      b.done(result.error());
    }
    return 0;
  }

  static int onModemEvent(sd_event_source*, int, uint32_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->sms_->processEvents();
    // CoAP by SMS may have woken a device or ended a request: send what the queue decided.
    self->downlink_->flush();
    self->rearmTimers();
    return 0;
  }

  static int onSmsTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedSms_.reset();  // a oneshot source is off once it fired
    self->smsTransport_->tick();
    self->downlink_->flush();
    self->rearmTimers();
    return 0;
  }

  // SmsTransportHost: CoAP by SMS goes where UDP requests and answers go.
  bool smsBatch(const std::function<void()>& work) override {
    auto batch = db::Transaction::begin(db_->connection());
    batchOpen_ = batch.ok();
    work();
    bool committed = true;
    if (batch) {
      if (auto c = batch->commit(); !c) {
        committed = false;
        log::error(
            "LWG5310 cannot commit what a CoAP message by SMS changed, answering 5.00 and "
            "reloading the registrations and the queue from the database: {}",
            c.error().message);
        if (auto reloaded = loadRegistry(); !reloaded) {
          log::error("LWG1097 cannot reload the registrations: {}", reloaded.error().message);
        } else if (auto queue = downlink_->discardAndReload(); !queue) {
          log::error("LWG1097 cannot reload the downlink queue: {}", queue.error().message);
        }
      }
    }
    std::vector<std::function<void(dbus::Service&)>> events;
    events.swap(busEvents_);
    std::vector<std::function<void()>> bridgeEvents;
    bridgeEvents.swap(committedEvents_);
    batchOpen_ = false;
    if (committed) {
      for (auto& e : bridgeEvents) e();
    }
    if (committed && bus_) {
      for (auto& e : events) e(*bus_);
    }
    return committed;
  }
  core::Response smsRequest(const core::Request& request) override { return handle(request); }
  bool smsAnswer(const coap::Server::Answer& answer) override { return downlink_->answer(answer); }
  void smsRequestFailed(const core::Peer& peer, const std::vector<std::uint8_t>& token,
                        std::string_view why) override {
    downlink_->failed(peer, token, why);
  }
  void smsDeviceHeard(std::string_view endpoint) override {
    downlink_->queue().deviceMessage(endpoint);
    sms_->deviceHeard(endpoint);
    if (const core::Registration* reg = registry_->findByEndpoint(endpoint)) {
      registry_->touch(reg->location, clock_.wallNow());
    }
  }
  const core::Registration* smsRegistrationAt(std::string_view location) override {
    return registry_->findByLocation(location);
  }
  std::string smsEndpointOf(std::string_view msisdn) override { return smsEndpointFor(msisdn); }
  std::string smsNumberSetting(std::string_view endpoint) override {
    auto it = settings_.find(endpoint);
    return it == settings_.end() ? std::string() : it->second.smsNumber;
  }

  static int onWakeScan(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedWakeScan_.reset();  // a oneshot source is off once it fired
    self->lastWakeScan_ = self->clock_.steadyNow();
    std::vector<std::string> sleeping;
    self->registry_->forEach([&](const core::Registration& r) {
      if (r.queueMode() && !self->downlink_->queue().reachable(r.endpoint) &&
          self->downlink_->queue().unfinished(r.endpoint) > 0) {
        sleeping.push_back(r.endpoint);
      }
    });
    for (const auto& endpoint : sleeping) self->sms_->wakeIfNeeded(endpoint);
    self->rearmTimers();
    return 0;
  }

  Modem modem() override {
    Modem m;
    if (config_.modemBackend == "none") return m;
    const modem::Health& h = modemHealth_;
    m.state = h.connected ? "connected" : "disconnected";
    m.sim = h.sim;
    m.network = h.network;
    m.signalPercent = h.signalPercent.value_or(-1);
    m.model = h.manufacturer.empty() ? h.model : h.manufacturer + " " + h.model;
    m.error = h.error;
    return m;
  }

  // SmsDevices
  void modemHealth(const modem::Health& health) override {
    if (health == modemHealth_) return;
    modemHealth_ = health;
    if (bus_) bus_->modemChanged();
  }
  const core::Registration* smsRegistration(std::string_view endpoint) override {
    return registry_->findByEndpoint(endpoint);
  }
  const core::DeviceSettings* smsSettings(std::string_view endpoint) override {
    auto it = settings_.find(endpoint);
    return it == settings_.end() ? nullptr : &it->second;
  }
  bool smsReachable(std::string_view endpoint) override {
    return downlink_->queue().reachable(endpoint);
  }
  std::optional<core::DownlinkQueue::Waiting> smsWaiting(std::string_view endpoint) override {
    return downlink_->queue().waiting(endpoint);
  }
  void wakeDecision(const WakeReport& r) override {
    if (bus_) bus_->wakeDecision(r.endpoint, r.sent, r.kind, r.reason, r.smsId);
  }
  std::string smsEndpointFor(std::string_view msisdn) override {
    std::string found;
    registry_->forEach([&](const core::Registration& r) {
      if (found.empty() && !r.smsNumber.empty() && r.smsNumber == msisdn) found = r.endpoint;
      // Registered by SMS from this number (the SMS binding).
      if (found.empty() && r.peer.transport == "sms" && r.peer.address == msisdn) {
        found = r.endpoint;
      }
    });
    for (const auto& [ep, s] : settings_) {
      if (found.empty() && !s.smsNumber.empty() && s.smsNumber == msisdn) found = ep;
    }
    return found;
  }

  void reloadQueue() {
    if (auto queue = downlink_->discardAndReload(); !queue) {
      log::error("LWG1097 cannot reload the downlink queue: {}", queue.error().message);
    }
  }

  // D-Bus is optional (DESIGN.md "Degrade, don't die"): without a bus, or while another process
  // owns the name, lwgated serves CoAP and tries again every kBusRetry.
  static constexpr std::uint64_t kBusRetryUsec = 10'000'000;

  void connectBus() {
    auto choice = dbus::parseBusChoice(config_.bus);
    if (!choice || choice->kind == dbus::BusChoice::Kind::kNone) {
      log::notice("LWG4000 D-Bus is turned off ([dbus] bus = \"none\")");
      return;
    }
    auto service = dbus::Service::connect(*choice, *this);
    if (!service) {
      if (!busWarned_) {
        log::warning(
            "LWG4002 D-Bus not available, serving CoAP without it and retrying every {}s: {}",
            kBusRetryUsec / 1'000'000, service.error().message);
        busWarned_ = true;
      }
      scheduleBusRetry();
      return;
    }
    bus_ = std::move(*service);
    int rc = sd_event_add_io(event_, &busIoSource_, bus_->fd(), bus_->events(), &Daemon::onBusEvent,
                             this);
    if (rc >= 0) {
      rc = sd_event_add_time(event_, &busTimeSource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                             &Daemon::onBusTimer, this);
    }
    if (rc >= 0) rc = sd_event_add_post(event_, &busPostSource_, &Daemon::onBusPost, this);
    if (rc >= 0) {
      rc = sd_event_add_time(event_, &busChangesSource_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                             &Daemon::onBusChangesTimer, this);
      if (rc >= 0) sd_event_source_set_enabled(busChangesSource_, SD_EVENT_OFF);
      armedBusChanges_.reset();
    }
    if (rc < 0) {
      log::error("LWG4004 cannot watch the D-Bus connection: {}", std::strerror(-rc));
      dropBus();
      scheduleBusRetry();
      return;
    }
    registry_->forEach([this](const core::Registration& r) { bus_->deviceRestored(r); });
    busWarned_ = false;
    log::notice("LWG4001 on D-Bus as {} ({})", dbus::kBusName, dbus::describe(*choice));
    refreshBusSources();
  }

  void dropBus() {
    for (auto** source : {&busIoSource_, &busTimeSource_, &busPostSource_, &busChangesSource_}) {
      if (*source) *source = sd_event_source_disable_unref(*source);
    }
    bus_.reset();
  }

  void scheduleBusRetry() {
    const std::uint64_t at =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       clock_.steadyNow().time_since_epoch())
                                       .count()) +
        kBusRetryUsec;
    if (!busRetrySource_) {
      sd_event_add_time(event_, &busRetrySource_, CLOCK_MONOTONIC, at, 0, &Daemon::onBusRetry,
                        this);
    } else {
      sd_event_source_set_time(busRetrySource_, at);
    }
    if (busRetrySource_) sd_event_source_set_enabled(busRetrySource_, SD_EVENT_ONESHOT);
  }

  static int onBusRetry(sd_event_source*, uint64_t, void* userdata) {
    static_cast<Daemon*>(userdata)->connectBus();
    return 0;
  }

  static int onBusEvent(sd_event_source*, int, uint32_t, void* userdata) {
    static_cast<Daemon*>(userdata)->processBus();
    return 0;
  }
  static int onBusTimer(sd_event_source*, uint64_t, void* userdata) {
    static_cast<Daemon*>(userdata)->processBus();
    return 0;
  }

  void processBus() {
    if (!bus_) return;
    auto processed = bus_->process();
    downlink_->flush();
    rearmTimers();
    if (!processed) {
      log::warning("LWG4005 {}; reconnecting", processed.error().message);
      dropBus();
      scheduleBusRetry();
    }
  }

  // After every dispatch of any source: emit the collected property changes and point the bus
  // sources at what the connection now waits for (it may have output queued by a signal).
  static int onBusPost(sd_event_source*, void* userdata) {
    static_cast<Daemon*>(userdata)->flushBusChanges();
    return 0;
  }
  // Property changes held back by the service's rate limit.
  static int onBusChangesTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedBusChanges_.reset();  // a oneshot source is off once it fired
    self->flushBusChanges();
    return 0;
  }
  void flushBusChanges() {
    if (!bus_) return;
    armTimer(busChangesSource_, bus_->flushChanges(clock_.steadyNow()), &armedBusChanges_);
    refreshBusSources();
  }

  void refreshBusSources() {
    sd_event_source_set_io_events(busIoSource_, bus_->events());
    const std::uint64_t timeout = bus_->timeout();
    if (timeout == UINT64_MAX) {
      sd_event_source_set_enabled(busTimeSource_, SD_EVENT_OFF);
    } else {
      sd_event_source_set_time(busTimeSource_, std::max<std::uint64_t>(timeout, 1));
      sd_event_source_set_enabled(busTimeSource_, SD_EVENT_ONESHOT);
    }
  }

  core::Response handle(const core::Request& request) {
    if (auto refused = security_->admit(request, *registry_)) return *refused;  // 4.29
    core::Response response;
    if (core::RegistrationInterface::handles(request)) {
      response = rd_->handle(request);
    } else if (core::isSendRequest(request)) {
      response = handleSend(request);
    } else {
      response.code = core::Code::kNotFound;
      response.payload = "no such resource on this LwM2M server";
    }
    if (static_cast<unsigned>(response.code) >= 0x80) {
      log::info("LWG2010 {} {} from {}: {} {}", methodText(request.method), pathText(request),
                peerText(request.peer), core::codeText(response.code), response.payload);
    }
    return response;
  }

  // LwM2M 1.1 Send (POST /dp, core/send.h). The sender is who the request came from: the
  // registration made or updated from its transport, address and port (its DTLS session's, for
  // coaps), as notifications are matched to their device; by SMS, the device of the number (as
  // the SMS binding tells its messages' senders apart). Stored in the batch's transaction, so the
  // 2.04 goes out only once it is committed; the D-Bus signal and the bridge follow the commit.
  core::Response handleSend(const core::Request& request) {
    const core::Registration* sender = registry_->findByPeer(request.peer);
    if (!sender && request.peer.transport == "sms") {
      const std::string endpoint = smsEndpointFor(request.peer.address);
      if (!endpoint.empty()) sender = registry_->findByEndpoint(endpoint);
    }
    core::Notification send;
    if (auto refused = core::checkSend(request, sender, clock_.wallNow(),
                                       {.maxPayload = config_.maxPayload}, &send)) {
      return *refused;
    }
    auto stored = downlink_->observations().storeSend(std::move(send));
    if (!stored) return core::errorResponse(stored.error());
    if (bridge_) bridge_->sendStored(sender->endpoint, *stored);
    // A Send is a message from the device: a queue-mode device is awake (TS Core 6.5; DESIGN
    // "Queue": Register, Update, Notify, Send, any CON).
    downlink_->queue().deviceMessage(sender->endpoint);
    registry_->touch(sender->location, clock_.wallNow());
    if (sms_) sms_->deviceHeard(sender->endpoint);
    core::Response ok;
    ok.code = core::Code::kChanged;
    return ok;
  }

  core::RegistryLimits registryLimits() const { return {.maxDevices = config_.maxDevices}; }
  SecurityConfig securityConfig() const {
    return {.rateLimit = {.perSecond = config_.rateLimit, .burst = config_.rateLimitBurst},
            .maxPsks = config_.maxDevices};
  }
  core::QueueConfig queueConfig() const {
    core::QueueConfig q;
    q.awakeWindow = core::Millis(static_cast<std::int64_t>(config_.awakeWindow * 1000));
    q.defaultTtl = core::Seconds(static_cast<std::int64_t>(config_.requestTtl));
    q.maxPerDevice = config_.maxPerDevice;
    q.maxAttempts = static_cast<unsigned>(config_.maxAttempts);
    return q;
  }
  core::ObservationConfig observationConfig() const {
    return {.maxNotificationsPerDevice = config_.maxNotificationsPerDevice};
  }
  core::RegistrationLimits registrationLimits() const {
    return {.maxPayload = config_.maxPayload, .maxObjects = config_.maxObjects};
  }

  // Points a one-shot CLOCK_MONOTONIC source at `next` (off when nullopt). Called after every
  // batch of traffic, so it only touches the timer (a syscall) when the deadline moved; `armed`
  // remembers what the source is set to and is reset when the source fires.
  static void armTimer(sd_event_source* source, std::optional<core::SteadyTime> next,
                       std::optional<core::SteadyTime>* armed) {
    if (next == *armed) return;
    *armed = next;
    if (!next) {
      sd_event_source_set_enabled(source, SD_EVENT_OFF);
      return;
    }
    // std::chrono::steady_clock is CLOCK_MONOTONIC on Linux, which is what the source uses.
    const auto usec =
        std::chrono::duration_cast<std::chrono::microseconds>(next->time_since_epoch()).count();
    sd_event_source_set_time(source, static_cast<uint64_t>(std::max<int64_t>(usec, 1)));
    sd_event_source_set_enabled(source, SD_EVENT_ONESHOT);
  }

  void rearmExpiry() { armTimer(expirySource_, registry_->nextExpiry(), &armedExpiry_); }

  void reload() {
    std::string source;
    auto fresh = resolveConfig(overrides_, &source);
    if (!fresh) {
      log::error("LWG1006 configuration reload failed, keeping the running configuration: {}",
                 fresh.error().message);
      return;
    }
    if (fresh->listen != config_.listen || fresh->listenDtls != config_.listenDtls ||
        fresh->database != config_.database ||
        fresh->databaseSyncFull != config_.databaseSyncFull ||
        fresh->ackTimeout != config_.ackTimeout || fresh->maxRetransmit != config_.maxRetransmit ||
        fresh->bus != config_.bus) {
      log::warning(
          "LWG1007 listen, database, [coap] and [dbus] changes take effect at the next restart, "
          "ignoring them for now");
      fresh->listen = config_.listen;
      fresh->listenDtls = config_.listenDtls;
      fresh->database = config_.database;
      fresh->databaseSyncFull = config_.databaseSyncFull;
      fresh->ackTimeout = config_.ackTimeout;
      fresh->maxRetransmit = config_.maxRetransmit;
      fresh->bus = config_.bus;
    }
    // The modem thread was started with these; the [sms] budgets and back-off apply at once.
    if (fresh->modemBackend != config_.modemBackend || fresh->gammuConfig != config_.gammuConfig ||
        fresh->modemPollInterval != config_.modemPollInterval ||
        fresh->smsValidity != config_.smsValidity) {
      log::warning(
          "LWG5007 [modem] and [sms] validity changes take effect at the next restart, ignoring "
          "them for now");
      fresh->modemBackend = config_.modemBackend;
      fresh->gammuConfig = config_.gammuConfig;
      fresh->modemPollInterval = config_.modemPollInterval;
      fresh->smsValidity = config_.smsValidity;
    }
    config_ = std::move(*fresh);
    log::setLevel(config_.logLevel);
    registry_->setLimits(registryLimits());
    rd_->setLimits(registrationLimits());
    security_->setConfig(securityConfig());
    downlink_->setConfig(queueConfig());
    downlink_->setObservationConfig(observationConfig());
    sms_->setConfig(smsConfig());
    smsTransport_->setConfig(smsTransportConfig());
    bridge_->setServers(config_.upstreams);
    bridge_->retryCoaps();  // keys added meanwhile, a server that was fixed
    rearmTimers();          // the wake scan's and the bridge's
    log::notice("LWG1008 configuration reloaded from {}",
                source.empty() ? "built-in defaults" : source);
  }

  void notifyStatus(const char* extra) {
    std::string status =
        std::string(extra) + "STATUS=" + std::to_string(registry_->size()) + " devices registered";
    sd_notify(0, status.c_str());
  }

  // Group commit: everything the requests of one wake-up change goes into one transaction, and
  // their responses are sent only after it is committed. One commit per registration cost about
  // 4 page writes each and capped the gateway near 11,000 registrations/s (bench/); a batch
  // shares them. The batch is bounded so one busy wake-up cannot starve the rest of the loop.
  static constexpr int kMaxRoundsPerBatch = 64;

  static int onCoapIo(sd_event_source*, int, uint32_t, void* userdata) {
    static_cast<Daemon*>(userdata)->processCoap();
    return 0;
  }

  // Device signals of a batch wait for its commit (a failed commit takes the changes back).
  // What the bridge hears about devices waits for the batch's commit too: an upstream server
  // must not learn of a registration a failed commit takes back.
  void afterCommit(std::function<void()> event) {
    if (!bridge_) return;  // start-up: the bridge learns the restored registrations itself
    if (batchOpen_) {
      committedEvents_.push_back(std::move(event));
    } else {
      event();
    }
  }

  void toBus(std::function<void(dbus::Service&)> event) {
    if (!bus_) return;
    if (batchOpen_) {
      busEvents_.push_back(std::move(event));
    } else {
      event(*bus_);
    }
  }

  void processCoap() {
    // Lazy: most wake-ups of a drain (an answer held for a group commit, the next request sent
    // unsaved) write nothing, and then cost no locks and no commit.
    std::optional<db::Transaction> batch = db::Transaction::beginLazy(db_->connection());
    coap_->setDeferResponses(true);
    batchOpen_ = true;
    for (int round = 0; round < kMaxRoundsPerBatch; ++round) {
      const auto handled = coap_->process();
      // Idempotent requests the answers freed go out now; the commit below (of the answers, and
      // of other requests before they are sent) overlaps with the devices' work on them. Not
      // while responses are held for the commit: a request must not overtake the response to
      // the device's own request (a Register's 2.01 before the Read it leads to); then they go
      // out after the commit, with the rest.
      if (!coap_->holdsResponses()) downlink_->sendUnsaved();
      if (handled == 0) break;
    }
    bool committedOrNoBatch = true;
    if (batch) {
      if (auto committed = batch->commit(); !committed) {
        committedOrNoBatch = false;
        log::error(
            "LWG1096 cannot commit a batch of requests, answering them 5.00 and reloading "
            "the registrations from the database: {}",
            committed.error().message);
        coap_->failHeldResponses(
            makeError(ErrorCode::kStorage, "the gateway could not store this; try again later"));
        if (auto reloaded = loadRegistry(); !reloaded) {
          log::error("LWG1097 cannot reload the registrations: {}", reloaded.error().message);
        } else if (auto queue = downlink_->discardAndReload(); !queue) {
          log::error("LWG1097 cannot reload the downlink queue: {}", queue.error().message);
        }
        bridge_->reload();
      }
    }
    std::vector<std::function<void(dbus::Service&)>> events;
    events.swap(busEvents_);
    std::vector<std::function<void()>> committed;
    committed.swap(committedEvents_);
    batchOpen_ = false;
    if (committedOrNoBatch) {
      for (auto& e : committed) e();
    }
    if (committedOrNoBatch && bus_) {
      for (auto& e : events) e(*bus_);
    }
    coap_->setDeferResponses(false);
    coap_->flushResponses();
    downlink_->flush();
    rearmTimers();
  }

  void rearmTimers() {
    rearmExpiry();
    // The queue's next time moves with every answer (a queue-mode device's awake window starts
    // again, a group-commit delay begins): a later time keeps the armed one, which then fires
    // early, finds nothing due and arms the real one - one timerfd_settime per firing instead
    // of one per answer.
    auto queueNext = downlink_->nextTimer();
    if (queueNext && armedQueue_ && *armedQueue_ <= *queueNext) queueNext = armedQueue_;
    armTimer(queueSource_, queueNext, &armedQueue_);
    if (smsTransport_) armTimer(smsTimerSource_, smsTransport_->nextTimer(), &armedSms_);
    armWakeScan();
    if (bridge_) {
      bridge_->flush();
      armTimer(bridgeSource_, bridge_->nextTimer(), &armedBridge_);
    }
  }

  static int onBridgeTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedBridge_.reset();
    self->bridge_->tick();
    self->downlink_->flush();  // what tick cancelled: its D-Bus signals, the next request sent
    self->rearmTimers();
    return 0;
  }

  // The bridge's exchanges with upstream servers: an answer may take MAX_TRANSMIT_WAIT (RFC
  // 7252 4.8.2, with the configured ACK_TIMEOUT and MAX_RETRANSMIT) plus the server's own
  // processing; Updates go out that long before the upstream lifetime ends.
  bridge::RegistrationTiming bridgeTiming() const {
    const double maxTransmitWait =
        config_.ackTimeout * ((1u << (config_.maxRetransmit + 1)) - 1) * 1.5;
    bridge::RegistrationTiming t;
    t.updateMargin = core::Millis(static_cast<std::int64_t>(maxTransmitWait * 1000));
    t.exchangeTimeout = t.updateMargin + core::Seconds(10);
    return t;
  }

  static int onQueueTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedQueue_.reset();  // a oneshot source is off once it fired
    self->downlink_->tick();
    self->downlink_->flush();
    self->rearmTimers();
    return 0;
  }

  // (Re)builds the registry from the database: at start-up, and after a failed commit, when
  // memory is ahead of the database and the database is the truth.
  Result<core::Registry::Restored> loadRegistry() {
    registry_ = std::make_unique<core::Registry>(clock_, *store_, registryLimits(), randomLocation);
    auto restored = registry_->restore();
    if (!restored) return restored.error();
    registry_->setListener(this);
    rd_ = std::make_unique<core::RegistrationInterface>(*registry_, registrationLimits());
    rd_->setCredentials(&security_->credentials());
    downlink_->setRegistry(registry_.get());
    if (bridge_) bridge_->setRegistry(registry_.get());
    armedExpiry_.reset();
    return restored;
  }

  static int onExpiryTimer(sd_event_source*, uint64_t, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    self->armedExpiry_.reset();  // a oneshot source is off once it fired
    auto result = self->registry_->expire();
    self->downlink_->flush();
    if (result.storeError) {
      log::error(
          "LWG1093 cannot delete expired registrations from the database (they are "
          "dropped at the next start): {}",
          result.storeError->message);
    }
    self->rearmExpiry();
    return 0;
  }

  static int onSignal(sd_event_source* source, const struct signalfd_siginfo* si, void* userdata) {
    auto* self = static_cast<Daemon*>(userdata);
    if (si->ssi_signo == SIGHUP) {
      sd_notify(0, "RELOADING=1");
      self->reload();
      self->notifyStatus("READY=1\n");
      return 0;
    }
    log::notice("LWG1009 received {}, stopping", strsignal(static_cast<int>(si->ssi_signo)));
    sd_notify(0, "STOPPING=1");
    return sd_event_exit(sd_event_source_get_event(source), 0);
  }

  Config config_;
  Overrides overrides_;
  std::string configSource_;
  core::SystemClock clock_;
  // Before db_: released after the database is closed (see db::DatabaseLock).
  std::optional<db::DatabaseLock> dbLock_;
  std::optional<db::Database> db_;
  std::unique_ptr<db::Checkpointer> checkpointer_;  // declared after db_: stops before it closes
  std::unique_ptr<db::SqliteRegistrationStore> store_;
  std::unique_ptr<core::Registry> registry_;
  std::unique_ptr<core::RegistrationInterface> rd_;
  std::unique_ptr<Security> security_;  // after db_; outlives coap_, whose handshakes use it
  std::unique_ptr<coap::Server> coap_;
  std::unique_ptr<Downlink> downlink_;  // after coap_: it uses the server
  std::unique_ptr<Sms> sms_;            // after db_: its modem thread stops before the database
  std::unique_ptr<SmsTransport> smsTransport_;  // after sms_ and downlink_: they point at it
  sd_event_source* smsTimerSource_ = nullptr;
  std::optional<core::SteadyTime> armedSms_;
  std::unique_ptr<Bridge> bridge_;  // after coap_: its sessions close before the context
  sd_event_source* modemSource_ = nullptr;
  sd_event_source* wakeScanSource_ = nullptr;
  sd_event* event_ = nullptr;
  sd_event_source* coapSource_ = nullptr;
  sd_event_source* expirySource_ = nullptr;
  sd_event_source* queueSource_ = nullptr;
  sd_event_source* bridgeSource_ = nullptr;
  std::optional<core::SteadyTime> armedExpiry_;
  std::optional<core::SteadyTime> armedQueue_;
  std::optional<core::SteadyTime> armedWakeScan_;
  core::SteadyTime lastWakeScan_{};
  std::optional<core::SteadyTime> armedBridge_;
  std::vector<std::function<void()>> committedEvents_;  // bridge events, after the commit
  std::unique_ptr<dbus::Service> bus_;
  modem::Health modemHealth_;
  bool batchOpen_ = false;
  std::vector<std::function<void(dbus::Service&)>> busEvents_;  // told after the commit
  std::unique_ptr<db::SqliteDeviceSettingsStore> settingsStore_;
  std::map<std::string, core::DeviceSettings, std::less<>> settings_;  // devices with any set
  sd_event_source* busIoSource_ = nullptr;
  sd_event_source* busTimeSource_ = nullptr;
  sd_event_source* busPostSource_ = nullptr;
  sd_event_source* busChangesSource_ = nullptr;
  std::optional<core::SteadyTime> armedBusChanges_;
  sd_event_source* busRetrySource_ = nullptr;
  bool busWarned_ = false;
  std::vector<std::string> listenUrls_;
  core::SteadyTime startedAt_ = clock_.steadyNow();
  std::vector<RunningBackup> backups_;
};

}  // namespace

Result<Config> resolveConfig(const Overrides& o, std::string* source) {
  Config config;
  source->clear();
  if (o.configPath) {
    auto loaded = loadConfigFile(*o.configPath);
    if (!loaded) return loaded.error();
    config = std::move(*loaded);
    *source = *o.configPath;
  } else if (access(kDefaultConfigPath, F_OK) == 0) {
    auto loaded = loadConfigFile(kDefaultConfigPath);
    if (!loaded) return loaded.error();
    config = std::move(*loaded);
    *source = kDefaultConfigPath;
  }
  if (o.database) config.database = *o.database;
  if (!o.listen.empty()) config.listen = o.listen;
  if (o.logLevel) config.logLevel = *o.logLevel;
  if (o.bus) {
    if (auto b = dbus::parseBusChoice(*o.bus); !b)
      return makeError(b.error().code, "--bus: " + b.error().message);
    config.bus = *o.bus;
  }
  if (config.database.empty()) return makeError(ErrorCode::kBadRequest, "--db: empty path");
  for (const auto& l : config.listen) {
    if (auto a = coap::parseListenAddress(l); !a) return a.error();
  }
  return config;
}

int runDaemon(const Overrides& overrides) {
  std::string source;
  auto config = resolveConfig(overrides, &source);
  if (!config) {
    log::error("LWG1094 {}", config.error().message);
    return 1;
  }
  log::setLevel(config->logLevel);
  Daemon daemon(std::move(*config), overrides, source);
  return daemon.run();
}

int runRestore(const Overrides& overrides, const std::string& file) {
  std::string source;
  auto config = resolveConfig(overrides, &source);
  if (!config) {
    log::error("LWG1094 {}", config.error().message);
    return kRestoreRefused;
  }
  log::setLevel(config->logLevel);
  const std::string& database = config->database;
  struct stat st {};
  const bool existed = ::lstat(database.c_str(), &st) == 0;
  // Held until we return: a starting lwgated fails on it instead of opening a file that is being
  // replaced.
  auto lock = db::DatabaseLock::acquire(database, true);
  if (!lock) {
    log::error("LWG1022 not restoring {}: {}", file, lock.error().message);
    return lock.error().code == ErrorCode::kLimitReached ? kRestoreInUse : kRestoreRefused;
  }
  auto undoCreate = [&] {
    if (!existed && ::lstat(database.c_str(), &st) == 0 && st.st_size == 0) {
      ::unlink(database.c_str());
    }
  };
  // lwgated takes the lock, but an older one, or an operator's sqlite3, does not.
  auto inUse = db::databaseInUse(database);
  if (!inUse || *inUse) {
    log::error("LWG1022 not restoring {}: {}", file,
               inUse ? "database " + database +
                           " is open in another program (an lwgated, or sqlite3); stop it first"
                     : inUse.error().message);
    undoCreate();
    return inUse ? kRestoreInUse : kRestoreRefused;
  }
  auto restored = db::restoreDatabase(file, database, db::latestSchemaVersion(),
                                      static_cast<std::int64_t>(::time(nullptr)));
  if (!restored) {
    log::error("LWG1021 not restoring {} into {}: {}; nothing was changed", file, database,
               restored.error().message);
    undoCreate();
    return kRestoreRefused;
  }
  const int latest = db::latestSchemaVersion();
  log::notice(
      "LWG1020 restored {} (schema version {}) into {}{}; {}", file, restored->schemaVersion,
      database,
      restored->keptPath.empty() ? "" : ", the previous database is kept as " + restored->keptPath,
      restored->schemaVersion < latest
          ? fmt::format("the next start migrates it to version {}", latest)
          : std::string("start lwgated to use it"));
  return kRestoreOk;
}

}  // namespace lwgate::daemon
