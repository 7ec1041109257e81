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
constexpr unsigned kFormatTlv = 11542;

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
  bool hasQuery = false;  // Uri-Query present (Write-Attributes when it is a bare PUT)
};

struct ServerReply {
  std::uint8_t code = 0;
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

  // Runs one server request and says what to answer. Never throws on peer input.
  ServerReply handle(const ServerRequest& request);

  // /1/0/1, what Register and Update send as "lt".
  std::uint32_t lifetime() const;
  void setLifetime(std::uint32_t lifetime);
  // Executable resources that ran at least once, as ("/3/0/4", count), in path order.
  std::vector<std::pair<std::string, unsigned>> executions() const;

 private:
  enum class Type { kString, kInteger, kTime, kExecutable };
  struct Resource {
    Type type = Type::kString;
    bool writable = false;
    std::string text;
    std::int64_t integer = 0;  // value; for kTime the offset from the clock
    std::int64_t min = INT64_MIN;
    std::int64_t max = INT64_MAX;
    unsigned executions = 0;
  };
  using Instance = std::map<std::uint16_t, Resource>;
  using Object = std::map<std::uint16_t, Instance>;
  // A parsed value waiting to be stored, so multi-resource writes apply all or nothing.
  struct Pending {
    Resource* resource;
    std::string text;
    std::int64_t integer;
  };

  ServerReply read(const std::vector<std::uint16_t>& ids, std::optional<unsigned> accept) const;
  ServerReply discover(const std::vector<std::uint16_t>& ids) const;
  ServerReply write(const std::vector<std::uint16_t>& ids, const ServerRequest& request);
  ServerReply execute(const std::vector<std::uint16_t>& ids);
  std::string encodeInstance(const Instance& instance) const;
  std::string textValue(const Resource& resource) const;
  std::string tlvValue(const Resource& resource) const;
  // Parses a value for resource; 0 on success, else the CoAP error code.
  std::uint8_t parseValue(Resource& resource, std::string_view bytes, bool isTlv,
                          Pending& out) const;
  void store(const Pending& pending);
  Resource* find(std::uint16_t object, std::uint16_t instance, std::uint16_t resource);

  std::map<std::uint16_t, Object> objects_;
  Clock clock_;
};

}  // namespace lwgate::sim
