#include "tests/sim/device.h"

#include <dirent.h>
#include <netdb.h>
#include <sys/socket.h>
#include <syslog.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>

namespace lwgate::sim {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// TS Core table 6.2.1-1: a Register without "lt" means 86400 s, so that is /1/0/1's value.
constexpr std::uint32_t kDefaultLifetime = 86400;
// A socket's receive buffer holds a few thousand small datagrams at most; the bound only keeps
// the drain finite whatever the kernel does.
constexpr int kMaxDrainedDatagrams = 65536;

std::int64_t unixNow() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// libcoap's default handler prints low-priority messages to stdout, which would mix with the
// one-line-per-action output that scripts parse; everything from libcoap goes to stderr.
void logToStderr(coap_log_t level, const char* message) {
  std::fprintf(stderr, "<%d>libcoap: %s", level, message);
  std::size_t n = std::strlen(message);
  if (n == 0 || message[n - 1] != '\n') std::fputc('\n', stderr);
}

void startupOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    coap_startup();
    coap_set_log_handler(logToStderr);
    coap_set_log_level(LOG_WARNING);
  });
}

Error transportError(std::string message) {
  // kInternal is the closest meaning the shared Result has for "no answer from the peer"; the
  // message carries the detail that the caller prints.
  return makeError(ErrorCode::kInternal, std::move(message));
}

const char* nackReasonText(coap_nack_reason_t reason) {
  switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
      return "timeout: no response after MAX_RETRANSMIT retransmissions";
    case COAP_NACK_NOT_DELIVERABLE:
      return "not deliverable";
    case COAP_NACK_RST:
      return "server answered with RST";
    case COAP_NACK_TLS_FAILED:
      return "TLS failed";
    case COAP_NACK_ICMP_ISSUE:
      return "ICMP error (port unreachable?)";
  }
  return "unknown NACK";
}

// libcoap 4.3.1 does not expose a session's socket. The session is this process's only UDP
// socket on its local port, so it is found by comparing getsockname() of the open descriptors.
int findSocket(const coap_address_t* local) {
  if (!local) return -1;
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    int fd = -1;
    const char* name = entry->d_name;
    auto [end, ec] = std::from_chars(name, name + std::strlen(name), fd);
    if (ec != std::errc() || *end != '\0') continue;
    int type = 0;
    socklen_t typeLength = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &typeLength) != 0 || type != SOCK_DGRAM) {
      continue;
    }
    coap_address_t bound;
    coap_address_init(&bound);
    bound.size = sizeof bound.addr;
    if (getsockname(fd, &bound.addr.sa, &bound.size) != 0) continue;
    if (bound.addr.sa.sa_family == local->addr.sa.sa_family &&
        coap_address_get_port(&bound) == coap_address_get_port(local)) {
      found = fd;
      break;
    }
  }
  closedir(dir);
  return found;
}

std::optional<Method> methodOf(coap_pdu_code_t code) {
  switch (code) {
    case COAP_REQUEST_CODE_GET:
      return Method::kGet;
    case COAP_REQUEST_CODE_POST:
      return Method::kPost;
    case COAP_REQUEST_CODE_PUT:
      return Method::kPut;
    case COAP_REQUEST_CODE_DELETE:
      return Method::kDelete;
    case COAP_REQUEST_CODE_FETCH:
      return Method::kFetch;
    case COAP_REQUEST_CODE_PATCH:
      return Method::kPatch;
    case COAP_REQUEST_CODE_IPATCH:
      return Method::kIpatch;
    default:
      return std::nullopt;
  }
}

// RFC 7252 4.8.2 with the default parameters.
constexpr auto kExchangeLifetime = std::chrono::seconds(247);
constexpr std::size_t kMaxAnswered = 1024;

std::string hexText(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

void addOption(coap_optlist_t** chain, std::uint16_t number, const std::string& value) {
  coap_insert_optlist(chain, coap_new_optlist(number, value.size(),
                                              reinterpret_cast<const std::uint8_t*>(value.data())));
}

}  // namespace

void setCoapVerbose(bool verbose) {
  startupOnce();
  coap_set_log_level(verbose ? LOG_DEBUG : LOG_WARNING);
}

std::string Response::codeText() const {
  return sim::codeText(code);
}

SimDevice::SimDevice(DeviceOptions options)
    : options_(std::move(options)),
      store_(ObjectStore::standard(
          options_.endpoint,
          options_.lifetime.value_or(options_.storedLifetime.value_or(kDefaultLifetime)),
          options_.firmwareObject, unixNow)),
      serverLifetime_(store_.lifetime()) {
  if (options_.temperatureSensor) store_.addTemperatureSensor();
  if (options_.largeResourceBytes > 0) {
    std::string text(options_.largeResourceBytes, '0');
    for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>('0' + i % 10);
    store_.addString(3, 0, 17, std::move(text), false);  // Device Type
  }
}

SimDevice::~SimDevice() {
  // Release the session while the context still exists (member order guarantees it, but a
  // reset here keeps it explicit for readers).
  session_.reset();
  context_.reset();
}

Result<std::unique_ptr<SimDevice>> SimDevice::create(DeviceOptions options) {
  startupOnce();
  // libcoap 4.3.1 silently ignores an ACK_TIMEOUT below 1 s and a MAX_RETRANSMIT of 0 (it keeps
  // the defaults), which would make the simulator wait far longer than asked; refuse them.
  if (!(options.ackTimeoutSeconds >= 1.0 && options.ackTimeoutSeconds <= 60.0)) {
    return makeError(ErrorCode::kBadRequest, "ack timeout must be in [1, 60] seconds");
  }
  if (options.maxRetransmit < 1 || options.maxRetransmit > 20) {
    return makeError(ErrorCode::kBadRequest, "max retransmit must be in [1, 20]");
  }

  coap_uri_t uri;
  const std::string& text = options.serverUri;
  const bool dtls = !options.pskIdentity.empty();
  if (coap_split_uri(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), &uri) < 0 ||
      uri.scheme != (dtls ? COAP_URI_SCHEME_COAPS : COAP_URI_SCHEME_COAP)) {
    return makeError(
        ErrorCode::kBadRequest,
        dtls ? "with a PSK the server must be a coaps://HOST:PORT URI, got '" + text + "'"
             : "server must be a coap://HOST:PORT URI (coaps:// needs a PSK), got '" + text + "'");
  }
  if (dtls && options.pskKey.empty()) {
    return makeError(ErrorCode::kBadRequest, "a PSK identity needs a PSK key");
  }
  if (uri.path.length != 0 || uri.query.length != 0) {
    return makeError(ErrorCode::kBadRequest, "server URI must not have a path or query: " + text);
  }
  std::string host(reinterpret_cast<const char*>(uri.host.s), uri.host.length);
  std::string port = std::to_string(uri.port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return makeError(ErrorCode::kBadRequest, "cannot resolve '" + host + "': " + gai_strerror(rc));
  }
  coap_address_t server;
  coap_address_init(&server);
  server.size = found->ai_addrlen;
  std::memcpy(&server.addr, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);

  std::unique_ptr<SimDevice> device(new SimDevice(std::move(options)));
  device->context_.reset(coap_new_context(nullptr));
  if (!device->context_) return transportError("coap_new_context failed");
  coap_set_app_data(device->context_.get(), device.get());
  // Before the session: libcoap 4.3.1 copies the context's block mode into each new session.
  if (device->options_.blockwise) {
    coap_context_set_block_mode(device->context_.get(), COAP_BLOCK_USE_LIBCOAP);
  }
  coap_register_response_handler(device->context_.get(), &SimDevice::onResponse);
  coap_register_nack_handler(device->context_.get(), &SimDevice::onNack);

  if (dtls) {
    // The handshake runs when the first request goes out; a refused one ends that request
    // with a "TLS failed" NACK.
    coap_dtls_cpsk_t psk{};
    psk.version = COAP_DTLS_CPSK_SETUP_VERSION;
    const DeviceOptions& o = device->options_;
    psk.psk_info.identity = {o.pskIdentity.size(),
                             reinterpret_cast<const std::uint8_t*>(o.pskIdentity.data())};
    psk.psk_info.key = {o.pskKey.size(), o.pskKey.data()};
    device->session_.reset(coap_new_client_session_psk2(device->context_.get(), nullptr, &server,
                                                        COAP_PROTO_DTLS, &psk));
  } else {
    device->session_.reset(
        coap_new_client_session(device->context_.get(), nullptr, &server, COAP_PROTO_UDP));
  }
  if (!device->session_) {
    return transportError(std::string("cannot create a ") + (dtls ? "DTLS" : "UDP") +
                          " session to " + text);
  }

  long ms = std::lround(device->options_.ackTimeoutSeconds * 1000.0);
  coap_fixed_point_t ack{static_cast<std::uint16_t>(ms / 1000),
                         static_cast<std::uint16_t>(ms % 1000)};
  coap_session_set_ack_timeout(device->session_.get(), ack);
  coap_session_set_max_retransmit(device->session_.get(), device->options_.maxRetransmit);
  if (auto added = device->addResources(); !added) return added.error();
  device->socketFd_ = findSocket(coap_session_get_addr_local(device->session_.get()));
  return device;
}

Result<void> SimDevice::addResources() {
  // One catch-all resource: the store decides what exists, so a path that is not there gets
  // the store's 4.04 (and a request line) instead of libcoap's silent one.
  coap_resource_t* resource = coap_resource_unknown_init2(&SimDevice::onRequest, 0);
  if (!resource) return transportError("cannot create the request handler resource");
  for (coap_request_t method : {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE,
                                COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH}) {
    coap_register_request_handler(resource, method, &SimDevice::onRequest);
  }
  coap_add_resource(context_.get(), resource);  // the context owns it from here
  return {};
}

std::uint16_t SimDevice::localPort() const {
  const coap_address_t* local = coap_session_get_addr_local(session_.get());
  return local ? coap_address_get_port(local) : 0;
}

void SimDevice::setLocation(const std::string& location) {
  location_.clear();
  std::size_t start = 0;
  while (start <= location.size()) {
    std::size_t slash = location.find('/', start);
    if (slash == std::string::npos) slash = location.size();
    if (slash > start) location_.push_back(location.substr(start, slash - start));
    start = slash + 1;
  }
  // A bare id is relative to the registration interface's default path.
  if (location_.size() == 1) location_.insert(location_.begin(), "rd");
}

std::string SimDevice::locationId() const {
  if (location_.size() == 2 && location_[0] == "rd") return location_[1];
  std::string joined;
  for (const auto& segment : location_) joined += "/" + segment;
  return joined;
}

milliseconds SimDevice::maxWait() const {
  // MAX_TRANSMIT_WAIT (RFC 7252 section 4.8.2) plus slack for the server's own processing, so
  // libcoap's NACK normally arrives first and the deadline is only a backstop.
  double factor = std::ldexp(1.0, static_cast<int>(options_.maxRetransmit) + 1) - 1.0;
  double seconds = options_.ackTimeoutSeconds * factor * 1.5 + 1.0;
  return milliseconds(static_cast<long long>(seconds * 1000.0));
}

coap_pdu_t* SimDevice::newRequest(coap_pdu_code_t code) {
  coap_pdu_t* pdu = coap_new_pdu(COAP_MESSAGE_CON, code, session_.get());
  if (!pdu) return nullptr;
  std::uint8_t token[8];
  std::size_t length = 0;
  coap_session_new_token(session_.get(), &length, token);
  coap_add_token(pdu, length, token);
  return pdu;
}

Result<Response> SimDevice::registerDevice() {
  coap_pdu_t* pdu = newRequest(COAP_REQUEST_CODE_POST);
  if (!pdu) return transportError("cannot allocate a PDU");

  coap_optlist_t* options = nullptr;
  addOption(&options, COAP_OPTION_URI_PATH, "rd");
  std::uint8_t format[4];
  std::size_t formatLength =
      coap_encode_var_safe(format, sizeof format, COAP_MEDIATYPE_APPLICATION_LINK_FORMAT);
  coap_insert_optlist(&options, coap_new_optlist(COAP_OPTION_CONTENT_FORMAT, formatLength, format));
  const DeviceOptions& o = options_;
  if (!o.endpoint.empty()) addOption(&options, COAP_OPTION_URI_QUERY, "ep=" + o.endpoint);
  // /1/0/1 rather than the option: a server may have written it since the last Register.
  if (o.lifetime)
    addOption(&options, COAP_OPTION_URI_QUERY, "lt=" + std::to_string(store_.lifetime()));
  if (!o.lwm2mVersion.empty())
    addOption(&options, COAP_OPTION_URI_QUERY, "lwm2m=" + o.lwm2mVersion);
  std::string binding = o.binding;
  // LwM2M 1.0 (section 5.3.1.1) encodes queue mode in the binding ("UQ"); 1.1 moved it to a
  // separate "Q" parameter (TS Core 1.1 section 6.2.1, table 6.2.1-1).
  bool queueInBinding = o.queueMode && o.lwm2mVersion == "1.0";
  if (queueInBinding && binding.find('Q') == std::string::npos) binding += "Q";
  if (!binding.empty()) addOption(&options, COAP_OPTION_URI_QUERY, "b=" + binding);
  if (o.queueMode && !queueInBinding) addOption(&options, COAP_OPTION_URI_QUERY, "Q");
  if (!o.smsNumber.empty()) addOption(&options, COAP_OPTION_URI_QUERY, "sms=" + o.smsNumber);
  for (const auto& extra : o.extraQuery) addOption(&options, COAP_OPTION_URI_QUERY, extra);
  int added = coap_add_optlist_pdu(pdu, &options);
  coap_delete_optlist(options);
  if (!added) {
    coap_delete_pdu(pdu);
    return transportError("cannot add options to the Register request");
  }
  if (!o.objects.empty()) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(o.objects.data());
    // options_ outlives the transfer, so libcoap may keep pointing into it (no release).
    if (o.blockwise) {
      coap_add_data_large_request(session_.get(), pdu, o.objects.size(), data, nullptr, nullptr);
    } else {
      coap_add_data(pdu, o.objects.size(), data);
    }
  }

  auto result = exchange(pdu);
  if (result && result->code == COAP_RESPONSE_CODE(201)) {
    location_ = result->locationPath;
    serverLifetime_ = store_.lifetime();
  }
  return result;
}

Result<Response> SimDevice::update(std::optional<std::uint32_t> lifetime) {
  if (location_.empty()) {
    return makeError(ErrorCode::kBadRequest, "no location: register first or pass --location");
  }
  if (lifetime) {
    store_.setLifetime(*lifetime);
  } else if (store_.lifetime() != serverLifetime_) {
    // The server wrote /1/0/1; TS Core section 6.2.2 has Update carry changed parameters.
    lifetime = store_.lifetime();
  }
  coap_pdu_t* pdu = newRequest(COAP_REQUEST_CODE_POST);
  if (!pdu) return transportError("cannot allocate a PDU");
  coap_optlist_t* options = nullptr;
  for (const auto& segment : location_) addOption(&options, COAP_OPTION_URI_PATH, segment);
  if (lifetime) addOption(&options, COAP_OPTION_URI_QUERY, "lt=" + std::to_string(*lifetime));
  int added = coap_add_optlist_pdu(pdu, &options);
  coap_delete_optlist(options);
  if (!added) {
    coap_delete_pdu(pdu);
    return transportError("cannot add options to the Update request");
  }
  auto result = exchange(pdu);
  if (result && result->success() && lifetime) serverLifetime_ = *lifetime;
  return result;
}

Result<Response> SimDevice::deregister() {
  if (location_.empty()) {
    return makeError(ErrorCode::kBadRequest, "no location: register first or pass --location");
  }
  coap_pdu_t* pdu = newRequest(COAP_REQUEST_CODE_DELETE);
  if (!pdu) return transportError("cannot allocate a PDU");
  coap_optlist_t* options = nullptr;
  for (const auto& segment : location_) addOption(&options, COAP_OPTION_URI_PATH, segment);
  int added = coap_add_optlist_pdu(pdu, &options);
  coap_delete_optlist(options);
  if (!added) {
    coap_delete_pdu(pdu);
    return transportError("cannot add options to the De-register request");
  }
  // The location is kept after 2.02 on purpose: a later Update to it is how tests check that
  // the server forgot the registration (4.04).
  return exchange(pdu);
}

Result<Response> SimDevice::send(const std::vector<std::string>& paths) {
  auto payload = store_.senmlJson(paths);
  if (!payload) return makeError(ErrorCode::kNotFound, "no values at the paths to send");
  return sendRaw(kFormatSenmlJson, *payload);
}

Result<Response> SimDevice::sendRaw(std::optional<unsigned> contentFormat,
                                    const std::string& payload) {
  coap_pdu_t* pdu = newRequest(COAP_REQUEST_CODE_POST);
  if (!pdu) return transportError("cannot allocate a PDU");
  coap_optlist_t* options = nullptr;
  addOption(&options, COAP_OPTION_URI_PATH, "dp");
  if (contentFormat) {
    std::uint8_t buf[4];
    coap_insert_optlist(
        &options, coap_new_optlist(COAP_OPTION_CONTENT_FORMAT,
                                   coap_encode_var_safe(buf, sizeof buf, *contentFormat), buf));
  }
  int added = coap_add_optlist_pdu(pdu, &options);
  coap_delete_optlist(options);
  if (!added) {
    coap_delete_pdu(pdu);
    return transportError("cannot add options to the Send request");
  }
  if (!payload.empty()) {
    // Copied: a Send may be sent again after this call returns (ICMP resend in exchange()).
    coap_add_data(pdu, payload.size(), reinterpret_cast<const std::uint8_t*>(payload.data()));
  }
  return exchange(pdu);
}

Result<Response> SimDevice::exchange(coap_pdu_t* pdu) {
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  pending_ = Pending{};
  pending_.token.assign(token.s, token.s + token.length);
  // libcoap ends an exchange at the first ICMP error (a server restarting has no socket for a
  // moment), where a lost datagram would have been retransmitted. A device keeps trying: the
  // copy is sent again (new Message ID, same token) after ACK_TIMEOUT, up to MAX_RETRANSMIT
  // times, within the exchange's usual time.
  std::unique_ptr<coap_pdu_t, decltype(&coap_delete_pdu)> copy(
      coap_pdu_duplicate(pdu, session_.get(), token.length, token.s, nullptr), coap_delete_pdu);
  pending_.mid = coap_send(session_.get(), pdu);  // takes ownership of pdu
  if (pending_.mid == COAP_INVALID_MID) return transportError("coap_send failed");

  const auto deadline = Clock::now() + maxWait();
  unsigned icmpResends = 0;
  auto resendAt = Clock::time_point::max();  // max: no resend due
  while (!pending_.response && !pending_.failure.has_value()) {
    if (Clock::now() >= resendAt) {
      resendAt = Clock::time_point::max();
      coap_pdu_t* again =
          coap_pdu_duplicate(copy.get(), session_.get(), token.length, token.s, nullptr);
      pending_.mid = again ? coap_send(session_.get(), again) : COAP_INVALID_MID;
      if (pending_.mid == COAP_INVALID_MID) pending_.failure = "coap_send failed";
      continue;
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      pending_.failure = "timeout: no response within " + std::to_string(maxWait().count()) + " ms";
      break;
    }
    // 0 would mean "wait forever" (COAP_IO_WAIT), so never pass it.
    auto slice = static_cast<std::uint32_t>(std::clamp<long long>(left, 1, 20));
    if (coap_io_process(context_.get(), slice) < 0) {
      pending_.failure = "coap_io_process failed";
    }
    service();
    if (pending_.failure && pending_.icmp && copy && icmpResends < options_.maxRetransmit) {
      ++icmpResends;
      pending_.failure.reset();
      pending_.icmp = false;
      resendAt = Clock::now() + milliseconds(std::lround(options_.ackTimeoutSeconds * 1000.0));
    }
  }
  if (pending_.failure) return transportError(*pending_.failure);
  return *pending_.response;
}

Result<void> SimDevice::runFor(milliseconds duration) {
  const auto deadline = Clock::now() + duration;
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return {};
    auto slice = static_cast<std::uint32_t>(std::clamp<long long>(left, 1, 20));
    if (coap_io_process(context_.get(), slice) < 0) {
      return transportError("coap_io_process failed");
    }
    service();
  }
}

std::int64_t SimDevice::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(Clock::now().time_since_epoch()).count();
}

void SimDevice::service() {
  if (!options_.tickResource.empty() && options_.tickMs > 0) {
    const auto now = Clock::now();
    if (nextTick_ == Clock::time_point{}) nextTick_ = now + milliseconds(options_.tickMs);
    if (now >= nextTick_) {
      store_.bump(options_.tickResource);
      nextTick_ = now + milliseconds(options_.tickMs);
    }
  }
  for (const Notification& n : store_.dueNotifications(nowMs())) sendNotification(n);
}

void SimDevice::sendNotification(const Notification& n) {
  const coap_pdu_type_t type = options_.notifyNon ? COAP_MESSAGE_NON : COAP_MESSAGE_CON;
  coap_pdu_t* pdu =
      coap_pdu_init(type, static_cast<coap_pdu_code_t>(n.code), coap_new_message_id(session_.get()),
                    coap_session_max_pdu_size(session_.get()));
  if (!pdu) return;
  coap_add_token(pdu, n.token.size(), reinterpret_cast<const std::uint8_t*>(n.token.data()));
  std::uint8_t buf[4];
  if (n.observe) {
    coap_add_option(pdu, COAP_OPTION_OBSERVE, coap_encode_var_safe(buf, sizeof buf, *n.observe),
                    buf);
  }
  if (n.contentFormat) {
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    coap_encode_var_safe(buf, sizeof buf, *n.contentFormat), buf);
  }
  if (!n.payload.empty()) {
    coap_add_data(pdu, n.payload.size(), reinterpret_cast<const std::uint8_t*>(n.payload.data()));
  }
  coap_send(session_.get(), pdu);  // takes the PDU; libcoap retransmits a CON one
  emit("notify " + n.path + " seq=" + (n.observe ? std::to_string(*n.observe) : "-") + " " +
       codeText(n.code) + (options_.notifyNon ? " NON" : " CON"));
}

Result<void> SimDevice::change(const std::string& path) {
  if (!store_.bump(path)) {
    return makeError(ErrorCode::kBadRequest, path + " is not a numeric resource of this device");
  }
  service();
  return {};
}

Result<std::uint32_t> SimDevice::sendStale(const std::string& path) {
  auto n = store_.staleNotification(path);
  if (!n) return makeError(ErrorCode::kNotFound, "nobody observes " + path);
  sendNotification(*n);
  return *n->observe;
}

Result<std::uint32_t> SimDevice::sendMalformed(const std::string& path) {
  auto n = store_.malformedNotification(path);
  if (!n) return makeError(ErrorCode::kNotFound, "nobody observes " + path);
  sendNotification(*n);
  return *n->observe;
}

Result<bool> SimDevice::sendRogue() {
  std::string token(8, '\0');
  std::size_t length = 0;
  coap_session_new_token(session_.get(), &length, reinterpret_cast<std::uint8_t*>(token.data()));
  token.resize(length);
  token += "rogue";  // never a token the server made: it chose all of its own (8 bytes)
  token.resize(8);
  Notification n;
  n.token = token;
  n.path = "(rogue)";
  n.code = kCoapContent;
  n.observe = 1;
  n.contentFormat = kFormatText;
  n.payload = "0";
  rogueToken_ = token;
  rogueRejected_.reset();
  const bool non = options_.notifyNon;
  options_.notifyNon = false;  // CON, so a RST comes back to a message libcoap tracks
  sendNotification(n);
  options_.notifyNon = non;
  const auto deadline =
      Clock::now() + milliseconds(static_cast<long long>(options_.ackTimeoutSeconds * 2000));
  while (!rogueRejected_ && Clock::now() < deadline) {
    if (coap_io_process(context_.get(), 20) < 0) return transportError("coap_io_process failed");
  }
  rogueToken_.reset();
  return rogueRejected_.value_or(false);
}

Result<std::size_t> SimDevice::sleepFor(milliseconds duration) {
  if (socketFd_ < 0) return transportError("cannot find the session's socket to drain after sleep");
  // Deliberately no coap_io_process(): nothing is read, ACKed or retransmitted while asleep.
  std::this_thread::sleep_for(duration);
  return dropPending();
}

std::size_t SimDevice::dropPending() {
  std::size_t dropped = 0;
  char buffer[2048];
  for (int i = 0; i < kMaxDrainedDatagrams; ++i) {
    ssize_t n = recv(socketFd_, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n >= 0) {
      ++dropped;
    } else if (errno != EINTR && errno != ECONNREFUSED) {
      // EAGAIN: drained. ECONNREFUSED was a queued ICMP error, consumed by this call.
      break;
    }
  }
  return dropped;
}

void SimDevice::onRequest(coap_resource_t* resource, coap_session_t* session,
                          const coap_pdu_t* request, const coap_string_t* query,
                          coap_pdu_t* response) {
  auto* self = static_cast<SimDevice*>(coap_get_app_data(coap_session_get_context(session)));
  auto method = methodOf(coap_pdu_get_code(request));
  if (!self || !method) {
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_NOT_ALLOWED);
    return;
  }
  ServerRequest in;
  in.method = *method;
  in.hasQuery = query && query->length > 0;
  const coap_bin_const_t token = coap_pdu_get_token(request);
  in.token.assign(reinterpret_cast<const char*>(token.s), token.length);
  coap_opt_iterator_t it;
  coap_option_iterator_init(request, &it, COAP_OPT_ALL);
  while (coap_opt_t* option = coap_option_next(&it)) {
    const std::uint8_t* value = coap_opt_value(option);
    std::size_t length = coap_opt_length(option);
    switch (it.number) {
      case COAP_OPTION_URI_PATH:
        in.path.emplace_back(reinterpret_cast<const char*>(value), length);
        break;
      case COAP_OPTION_ACCEPT:
        in.accept = coap_decode_var_bytes(value, length);
        break;
      case COAP_OPTION_CONTENT_FORMAT:
        in.contentFormat = coap_decode_var_bytes(value, length);
        break;
      case COAP_OPTION_URI_QUERY:
        in.hasQuery = true;
        in.query.emplace_back(reinterpret_cast<const char*>(value), length);
        break;
      case COAP_OPTION_OBSERVE:
        in.observe = coap_decode_var_bytes(value, length);
        break;
      default:
        break;
    }
  }
  std::size_t length = 0;
  const std::uint8_t* data = nullptr;
  if (coap_get_data(request, &length, &data) && length > 0) {
    in.payload.assign(reinterpret_cast<const char*>(data), length);
  }

  // A retransmission of a request already answered gets the same answer and is not run again
  // (an Execute must never run twice for one request).
  const auto mid = static_cast<std::uint16_t>(coap_pdu_get_mid(request));
  in.mid = mid;
  const bool confirmable = coap_pdu_get_type(request) == COAP_MESSAGE_CON;
  const auto now = Clock::now();
  std::erase_if(self->answered_,
                [&](const auto& kv) { return now - kv.second.at > kExchangeLifetime; });
  ServerReply out;
  bool repeat = false;
  if (auto seen = self->answered_.find(mid); confirmable && seen != self->answered_.end()) {
    out = seen->second.reply;
    repeat = true;
    self->emit("duplicate mid=" + std::to_string(mid) + " answered as before");
  } else {
    // This runs inside libcoap's C loop: nothing may escape, one bad request stays one 5.00.
    try {
      out = self->store_.handle(in, self->nowMs());
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lwgate-sim: request handler failed: %s\n", e.what());
      out = ServerReply{COAP_RESPONSE_CODE(500), std::nullopt, {}};
    }
    if (confirmable) {
      // Full: forget the oldest answer, not the newest. Refusing new entries (as before) ran a
      // retransmitted Execute twice once more than kMaxAnswered requests came within
      // EXCHANGE_LIFETIME (a 200-cycle crash bench did); the newest are the ones a restarted
      // server resends.
      if (self->answered_.size() >= kMaxAnswered) {
        self->answered_.erase(std::min_element(
            self->answered_.begin(), self->answered_.end(),
            [](const auto& a, const auto& b) { return a.second.at < b.second.at; }));
      }
      self->answered_[mid] = Answered{out, now};
    }
  }
  coap_pdu_set_code(response, static_cast<coap_pdu_code_t>(out.code));
  std::uint8_t observe[4];
  if (out.observe) {
    coap_add_option(response, COAP_OPTION_OBSERVE,
                    coap_encode_var_safe(observe, sizeof observe, *out.observe), observe);
  }
  // An answer larger than one datagram goes out in Block2 blocks; libcoap serves the
  // follow-up requests for the next blocks from its own copy, which it releases at the end.
  const bool large =
      self->options_.blockwise && out.payload.size() + 64 > coap_session_max_pdu_size(session);
  if (out.contentFormat && !(large && *out.contentFormat != 0)) {
    std::uint8_t format[4];
    std::size_t formatLength = coap_encode_var_safe(format, sizeof format, *out.contentFormat);
    coap_add_option(response, COAP_OPTION_CONTENT_FORMAT, formatLength, format);
  }
  if (large) {
    auto* copy = new std::string(out.payload);
    if (!coap_add_data_large_response(
            resource, session, request, response, query,
            static_cast<std::uint16_t>(out.contentFormat.value_or(0)), -1, 0, copy->size(),
            reinterpret_cast<const std::uint8_t*>(copy->data()),
            [](coap_session_t*, void* p) { delete static_cast<std::string*>(p); }, copy)) {
      std::fprintf(stderr, "lwgate-sim: cannot send a %zu-byte answer in blocks\n",
                   out.payload.size());
    }
  } else if (!out.payload.empty()) {
    coap_add_data(response, out.payload.size(),
                  reinterpret_cast<const std::uint8_t*>(out.payload.data()));
  }
  if (self->observer_ && !repeat) {
    try {
      self->observer_(in, out);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lwgate-sim: request observer failed: %s\n", e.what());
    }
  }
}

coap_response_t SimDevice::onResponse(coap_session_t* session, const coap_pdu_t* /*sent*/,
                                      const coap_pdu_t* received, coap_mid_t /*mid*/) {
  auto* self = static_cast<SimDevice*>(coap_get_app_data(coap_session_get_context(session)));
  coap_bin_const_t token = coap_pdu_get_token(received);
  bool matches = self && !self->pending_.response && token.length == self->pending_.token.size() &&
                 std::equal(token.s, token.s + token.length, self->pending_.token.begin());
  // A late answer to an exchange we gave up on is not ours any more; accept it quietly so
  // libcoap ACKs a CON response instead of provoking a RST.
  if (!matches) return COAP_RESPONSE_OK;

  Response response;
  response.code = static_cast<std::uint8_t>(coap_pdu_get_code(received));
  std::size_t length = 0;
  const std::uint8_t* data = nullptr;
  if (coap_get_data(received, &length, &data) && length > 0) {
    response.payload.assign(reinterpret_cast<const char*>(data), length);
  }
  coap_opt_filter_t filter;
  coap_option_filter_clear(&filter);
  coap_option_filter_set(&filter, COAP_OPTION_LOCATION_PATH);
  coap_opt_iterator_t it;
  coap_option_iterator_init(received, &it, &filter);
  while (coap_opt_t* option = coap_option_next(&it)) {
    response.locationPath.emplace_back(reinterpret_cast<const char*>(coap_opt_value(option)),
                                       coap_opt_length(option));
  }
  self->pending_.response = std::move(response);
  return COAP_RESPONSE_OK;
}

void SimDevice::onNack(coap_session_t* session, const coap_pdu_t* sent, coap_nack_reason_t reason,
                       coap_mid_t mid) {
  auto* self = static_cast<SimDevice*>(coap_get_app_data(coap_session_get_context(session)));
  if (!self) return;
  // Requests carry codes 0.01-0.31; a notification is a response (2.05, 4.04, ...).
  if (sent && mid != self->pending_.mid && coap_pdu_get_code(sent) >= COAP_RESPONSE_CODE(200)) {
    // A notification the server rejected (RST) or never acknowledged: the observation ends
    // (RFC 7641 3.6, 4.5).
    const coap_bin_const_t t = coap_pdu_get_token(sent);
    const std::string token(reinterpret_cast<const char*>(t.s), t.length);
    if (self->rogueToken_ && token == *self->rogueToken_) {
      self->rogueRejected_ = reason == COAP_NACK_RST;
      return;
    }
    if (self->store_.dropObservation(token)) {
      self->emit("notify-rejected token=" + hexText(token) + " reason=\"" + nackReasonText(reason) +
                 "\"");
    }
    return;
  }
  if (mid != self->pending_.mid || self->pending_.response) return;
  self->pending_.failure = nackReasonText(reason);
  self->pending_.icmp = reason == COAP_NACK_ICMP_ISSUE;
}

}  // namespace lwgate::sim
