#pragma once
// The simulated device's LwM2M objects and the operations the server runs on them (LwM2M 1.1
// TS Core section 6.3, Device Management and Service Enablement: Read, Discover, Write,
// Execute). Kept free of libcoap on purpose: SimDevice translates PDUs to ServerRequest and
// ServerReply back, so everything here is tested with bytes, not sockets.
//
// The sim deliberately has its own tiny OMA-TLV encoder instead of reusing the gateway's
// codec: a shared bug would otherwise cancel out in end-to-end tests.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lwgate::sim {

// CoAP response codes as on the wire, class << 5 | detail (RFC 7252 section 12.1.2).
constexpr std::uint8_t kCoapChanged = 0x44;            // 2.04
constexpr std::uint8_t kCoapContent = 0x45;            // 2.05
constexpr std::uint8_t kCoapBadRequest = 0x80;         // 4.00
constexpr std::uint8_t kCoapNotFound = 0x84;           // 4.04
constexpr std::uint8_t kCoapMethodNotAllowed = 0x85;   // 4.05
constexpr std::uint8_t kCoapNotAcceptable = 0x86;      // 4.06
constexpr std::uint8_t kCoapTooLarge = 0x8d;           // 4.13
constexpr std::uint8_t kCoapUnsupportedFormat = 0x8f;  // 4.15

// Content-Format numbers (CoAP registry; LwM2M 1.1 TS Core section 7.1).
constexpr unsigned kFormatText = 0;
constexpr unsigned kFormatLinkFormat = 40;
constexpr unsigned kFormatSenmlJson = 110;
constexpr unsigned kFormatTlv = 11542;

// Observations one device keeps at most (every peer-allocated resource has a cap).
constexpr std::size_t kMaxObservations = 64;

// Longest string a Write may store: every byte the peer can make us keep has a cap.
constexpr std::size_t kMaxStringBytes = 1024;

enum class Method { kGet, kPost, kPut, kDelete, kFetch, kPatch, kIpatch };
const char* methodName(Method method);

struct ServerRequest {
  Method method = Method::kGet;
  std::vector<std::string> path;  // Uri-Path segments as received
  std::optional<unsigned> accept;
  std::optional<unsigned> contentFormat;
  std::string payload;
  bool hasQuery = false;           // Uri-Query present (Write-Attributes when it is a bare PUT)
  std::vector<std::string> query;  // the Uri-Query values ("pmin=10")
  std::optional<std::uint32_t> observe;  // Observe option: 0 register, 1 deregister
  std::string token;                     // the request's token, raw bytes
  std::uint16_t mid = 0;                 // its Message ID (for logs and journals)
};

struct ServerReply {
  ServerReply() = default;
  ServerReply(std::uint8_t c, std::optional<unsigned> format, std::string body)
      : code(c), contentFormat(format), payload(std::move(body)) {}

  std::uint8_t code = 0;
  std::optional<unsigned> contentFormat;
  std::string payload;
  // Set on an answer that registered an observation: the Observe option to send with it.
  std::optional<std::uint32_t> observe;
  // Set when an Execute ran: the resource's path ("/3/0/4").
  std::optional<std::string> executed;
};

// A notification due to an observer (RFC 7641 4.2), ready to be put in a message.
struct Notification {
  std::string token;
  std::string path;       // the observed path, for logs
  std::uint8_t code = 0;  // 2.05, or an error that ends the observation (the path went away)
  std::optional<std::uint32_t> observe;  // the sequence number (absent on an error)
  std::optional<unsigned> contentFormat;
  std::string payload;
};

// "2.05" for 0x45.
std::string codeText(std::uint8_t code);

// OMA-TLV, LwM2M 1.1 TS Core section 7.4.3.
namespace tlv {
enum class Kind : std::uint8_t {
  kObjectInstance = 0,
  kResourceInstance = 1,
  kMultipleResource = 2,
  kResource = 3,
};
struct Entry {
  Kind kind = Kind::kResource;
  std::uint16_t id = 0;
  std::string value;  // raw value bytes, or nested TLV for instances and multiple resources
};
// One entry: type byte, 8- or 16-bit identifier, length field as short as fits.
std::string encode(Kind kind, std::uint16_t id, std::string_view value);
// Shortest two's-complement big-endian of 1, 2, 4 or 8 bytes (section 7.4.3, Integer).
std::string encodeInteger(std::int64_t value);
// The entries of one level; nullopt when the bytes are not well-formed TLV.
std::optional<std::vector<Entry>> decode(std::string_view bytes);
// Integers of 1, 2, 4 or 8 bytes; other lengths are malformed.
std::optional<std::int64_t> decodeInteger(std::string_view bytes);
}  // namespace tlv

class ObjectStore {
 public:
  using Clock = std::function<std::int64_t()>;  // Unix seconds; injected so tests fix /3/0/13

  explicit ObjectStore(Clock clock);

  // Objects 1 (Server), 3 (Device) and optionally 5 (Firmware Update) with the values the
  // simulator advertises; /3/0/2 (serial) is the endpoint name so each sim is distinguishable.
  static ObjectStore standard(const std::string& endpoint, std::uint32_t lifetime, bool firmware,
                              Clock clock);

  void addString(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                 std::string value, bool writable);
  // min/max bound what a Write may store (e.g. lifetime >= 1).
  void addInteger(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                  std::int64_t value, bool writable, std::int64_t min = INT64_MIN,
                  std::int64_t max = INT64_MAX);
  // Time (TS Core Appendix C): reads follow the clock; a Write sets the device's offset.
  void addTime(std::uint16_t object, std::uint16_t instance, std::uint16_t resource, bool writable);
  void addExecutable(std::uint16_t object, std::uint16_t instance, std::uint16_t resource);
  void addFloat(std::uint16_t object, std::uint16_t instance, std::uint16_t resource, double value,
                bool writable);
  // A multiple-instance integer resource (TS Core 7.1: resource instances /O/I/R/RI).
  void addIntegers(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                   std::map<std::uint16_t, std::int64_t> values, bool writable);
  // Object 3303 (IPSO Temperature) instance 0: 5700 Sensor Value (float), 5701 Units.
  void addTemperatureSensor();

  // Runs one server request and says what to answer. Never throws on peer input. nowMs (a
  // steady millisecond clock) times the observations a GET with Observe: 0 starts.
  ServerReply handle(const ServerRequest& request, std::int64_t nowMs = 0);

  // ---- Observations (RFC 7641 as LwM2M TS Core 6.4 uses it) ----
  // The notifications due at nowMs: an observed value changed and pmin has passed since the
  // last one, or pmax has passed. pmin/pmax come from the Observe's own query or from
  // Write-Attributes on the path or a parent (resource, then instance, then object); without
  // them a change is sent at once and nothing periodic is.
  std::vector<Notification> dueNotifications(std::int64_t nowMs);
  // Changes a numeric resource as a sensor would (integer +1, float +0.5) so its observers are
  // notified. False when the path is not a numeric resource.
  bool bump(const std::string& path);
  // A notification for the observation of `path` carrying a sequence number older than the
  // last one sent (a reordered message, for testing the server's RFC 7641 3.4 check).
  std::optional<Notification> staleNotification(const std::string& path);
  // A notification for the observation of `path` with the next sequence number and a payload
  // that is not valid TLV (for testing that the server keeps it and goes on).
  std::optional<Notification> malformedNotification(const std::string& path);
  // The observer rejected a notification (RST) or never acknowledged it: forget it (RFC 7641
  // 3.6, 4.5). True if there was such an observation.
  bool dropObservation(const std::string& token);
  std::size_t observationCount() const { return observations_.size(); }
  // ("/3/0/9", token) of every observation, in token order.
  std::vector<std::pair<std::string, std::string>> observations() const;

  // The current values of `paths` ("/3/0/9", "/3303/0", ...) as one SenML JSON array, each record
  // with its full name (what an LwM2M 1.1 Send carries); nullopt when a path is malformed or
  // names nothing this device has.
  std::optional<std::string> senmlJson(const std::vector<std::string>& paths) const;

  // /1/0/1, what Register and Update send as "lt".
  std::uint32_t lifetime() const;
  void setLifetime(std::uint32_t lifetime);
  // Executable resources that ran at least once, as ("/3/0/4", count), in path order.
  std::vector<std::pair<std::string, unsigned>> executions() const;

 private:
  enum class Type { kString, kInteger, kTime, kExecutable, kFloat, kIntegers };
  struct Resource {
    Type type = Type::kString;
    bool writable = false;
    std::string text;
    std::int64_t integer = 0;  // value; for kTime the offset from the clock
    std::int64_t min = INT64_MIN;
    std::int64_t max = INT64_MAX;
    double real = 0;
    std::map<std::uint16_t, std::int64_t> instances;  // kIntegers
    unsigned executions = 0;
  };
  struct Attributes {
    std::optional<std::int64_t> pminMs;
    std::optional<std::int64_t> pmaxMs;
  };
  struct Observation {
    std::vector<std::uint16_t> ids;
    std::optional<unsigned> accept;
    Attributes own;  // from the Observe's query
    std::uint32_t lastSeq = 0;
    std::int64_t lastSentMs = 0;
    bool changed = false;
  };
  using Instance = std::map<std::uint16_t, Resource>;
  using Object = std::map<std::uint16_t, Instance>;
  // A parsed value waiting to be stored, so multi-resource writes apply all or nothing.
  struct Pending {
    Resource* resource = nullptr;
    std::vector<std::uint16_t> ids;  // what changes, for the observers
    std::string text;
    std::int64_t integer = 0;
    double real = 0;
    std::optional<std::uint16_t> instance;  // a resource-instance write of kIntegers
    std::optional<std::map<std::uint16_t, std::int64_t>> instances;  // all of them (Replace)
  };

  ServerReply read(const std::vector<std::uint16_t>& ids, std::optional<unsigned> accept) const;
  ServerReply readSenml(const std::vector<std::uint16_t>& ids) const;
  ServerReply writeAttributes(const std::vector<std::uint16_t>& ids, const ServerRequest& request);
  ServerReply observe(const std::vector<std::uint16_t>& ids, const ServerRequest& request,
                      std::int64_t nowMs);
  Attributes effectiveAttributes(const Observation& o) const;
  void changed(const std::vector<std::uint16_t>& ids);
  std::uint32_t nextSeq();
  ServerReply discover(const std::vector<std::uint16_t>& ids) const;
  ServerReply write(const std::vector<std::uint16_t>& ids, const ServerRequest& request);
  ServerReply execute(const std::vector<std::uint16_t>& ids);
  std::string encodeInstance(const Instance& instance) const;
  std::string encodeResource(std::uint16_t id, const Resource& resource) const;
  std::string textValue(const Resource& resource) const;
  std::string tlvValue(const Resource& resource) const;
  std::string senmlValue(const Resource& resource) const;  // "\"v\":95", "\"vs\":\"x\""
  void senmlRecords(const std::vector<std::uint16_t>& ids, std::string& out) const;
  // Parses a value for resource; 0 on success, else the CoAP error code.
  std::uint8_t parseValue(Resource& resource, std::string_view bytes, bool isTlv,
                          Pending& out) const;
  // A whole multiple-instance resource from the value of its TLV entry.
  std::uint8_t parseInstances(Resource& resource, std::string_view tlvValue, Pending& out) const;
  void store(const Pending& pending);
  Resource* find(std::uint16_t object, std::uint16_t instance, std::uint16_t resource);

  std::map<std::uint16_t, Object> objects_;
  Clock clock_;
  std::map<std::string, Attributes> attributes_;     // Write-Attributes, by path text
  std::map<std::string, Observation> observations_;  // by token
  std::uint32_t seq_ = 0;                            // Observe sequence numbers, 24-bit
};

}  // namespace lwgate::sim
