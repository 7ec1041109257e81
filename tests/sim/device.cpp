#include "tests/sim/device.h"

#include <netdb.h>
#include <sys/socket.h>
#include <syslog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace lwgate::sim {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

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
  char text[8];
  std::snprintf(text, sizeof text, "%d.%02d", code >> 5, code & 0x1f);
  return text;
}

SimDevice::SimDevice(DeviceOptions options) : options_(std::move(options)) {}

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
  if (coap_split_uri(reinterpret_cast<const std::uint8_t*>(text.data()), text.size(), &uri) < 0 ||
      uri.scheme != COAP_URI_SCHEME_COAP) {
    return makeError(ErrorCode::kBadRequest,
                     "server must be a coap://HOST:PORT URI, got '" + text + "'");
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
  coap_register_response_handler(device->context_.get(), &SimDevice::onResponse);
  coap_register_nack_handler(device->context_.get(), &SimDevice::onNack);

  device->session_.reset(
      coap_new_client_session(device->context_.get(), nullptr, &server, COAP_PROTO_UDP));
  if (!device->session_) return transportError("cannot create a UDP session to " + text);

  long ms = std::lround(device->options_.ackTimeoutSeconds * 1000.0);
  coap_fixed_point_t ack{static_cast<std::uint16_t>(ms / 1000),
                         static_cast<std::uint16_t>(ms % 1000)};
  coap_session_set_ack_timeout(device->session_.get(), ack);
  coap_session_set_max_retransmit(device->session_.get(), device->options_.maxRetransmit);
  return device;
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
  if (o.lifetime) addOption(&options, COAP_OPTION_URI_QUERY, "lt=" + std::to_string(*o.lifetime));
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
    coap_add_data(pdu, o.objects.size(), reinterpret_cast<const std::uint8_t*>(o.objects.data()));
  }

  auto result = exchange(pdu);
  if (result && result->code == COAP_RESPONSE_CODE(201)) location_ = result->locationPath;
  return result;
}

Result<Response> SimDevice::update(std::optional<std::uint32_t> lifetime) {
  if (location_.empty()) {
    return makeError(ErrorCode::kBadRequest, "no location: register first or pass --location");
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
  return exchange(pdu);
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

Result<Response> SimDevice::exchange(coap_pdu_t* pdu) {
  coap_bin_const_t token = coap_pdu_get_token(pdu);
  pending_ = Pending{};
  pending_.token.assign(token.s, token.s + token.length);
  pending_.mid = coap_send(session_.get(), pdu);  // takes ownership of pdu
  if (pending_.mid == COAP_INVALID_MID) return transportError("coap_send failed");

  const auto deadline = Clock::now() + maxWait();
  while (!pending_.response && !pending_.failure) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      pending_.failure = "timeout: no response within " + std::to_string(maxWait().count()) + " ms";
      break;
    }
    // 0 would mean "wait forever" (COAP_IO_WAIT), so never pass it.
    auto slice = static_cast<std::uint32_t>(std::clamp<long long>(left, 1, 100));
    if (coap_io_process(context_.get(), slice) < 0) {
      pending_.failure = "coap_io_process failed";
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
    auto slice = static_cast<std::uint32_t>(std::clamp<long long>(left, 1, 100));
    if (coap_io_process(context_.get(), slice) < 0) {
      return transportError("coap_io_process failed");
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

void SimDevice::onNack(coap_session_t* session, const coap_pdu_t* /*sent*/,
                       coap_nack_reason_t reason, coap_mid_t mid) {
  auto* self = static_cast<SimDevice*>(coap_get_app_data(coap_session_get_context(session)));
  if (!self || mid != self->pending_.mid || self->pending_.response) return;
  self->pending_.failure = nackReasonText(reason);
}

}  // namespace lwgate::sim
