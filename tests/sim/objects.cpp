#include "tests/sim/objects.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>

namespace lwgate::sim {
namespace {

constexpr std::uint32_t kMaxTlvLength = 0xffffff;  // 24-bit length field

// LwM2M ids are 16-bit and 65535 is reserved (TS Core section 7.1); anything else in a
// Uri-Path segment cannot name one of our objects.
std::optional<std::uint16_t> parseId(const std::string& segment) {
  unsigned value = 0;
  const char* first = segment.data();
  const char* last = first + segment.size();
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || end != last || first == last || value >= 65535) return std::nullopt;
  // "03" is not a canonical id; a server never sends it.
  if (segment.size() > 1 && segment[0] == '0') return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

ServerReply reply(std::uint8_t code) {
  return ServerReply{code, std::nullopt, {}};
}

std::string pathText(const std::vector<std::uint16_t>& ids) {
  std::string text;
  for (auto id : ids) text += "/" + std::to_string(id);
  return text;
}

// "/3/0/9" -> {3, 0, 9}; nullopt for anything else.
std::optional<std::vector<std::uint16_t>> parsePathText(const std::string& text) {
  if (text.empty() || text[0] != '/') return std::nullopt;
  std::vector<std::uint16_t> ids;
  std::size_t at = 1;
  while (at <= text.size()) {
    std::size_t slash = text.find('/', at);
    if (slash == std::string::npos) slash = text.size();
    auto id = parseId(text.substr(at, slash - at));
    if (!id) return std::nullopt;
    ids.push_back(*id);
    at = slash + 1;
  }
  return ids;
}

bool isPrefix(const std::vector<std::uint16_t>& a, const std::vector<std::uint16_t>& b) {
  return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
}

std::string formatReal(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  // The shortest text that reads back to the same double, for readable payloads.
  for (int precision = 1; precision < 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return text;
}

// IEEE 754 binary64, big-endian (TS Core 7.4.3, Float).
std::string encodeDouble(double value) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &value, sizeof bits);
  std::string out;
  for (int i = 7; i >= 0; --i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}

std::optional<double> decodeFloat(std::string_view bytes) {
  std::uint64_t bits = 0;
  for (unsigned char c : bytes) bits = bits << 8 | c;
  if (bytes.size() == 8) {
    double d = 0;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  if (bytes.size() == 4) {
    auto narrow = static_cast<std::uint32_t>(bits);
    float f = 0;
    std::memcpy(&f, &narrow, sizeof f);
    return f;
  }
  return std::nullopt;
}

std::string jsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\u%04x", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// pmin=/pmax= values: seconds, fractions allowed; an empty value removes the attribute.
// Returns false for a value that is not a non-negative number.
bool parseAttributeSeconds(std::string_view value, std::optional<std::int64_t>& out) {
  if (value.empty()) {
    out.reset();
    return true;
  }
  double seconds = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (ec != std::errc() || end != value.data() + value.size() || !(seconds >= 0) || seconds > 1e9) {
    return false;
  }
  out = static_cast<std::int64_t>(seconds * 1000.0);
  return true;
}

}  // namespace

const char* methodName(Method method) {
  switch (method) {
    case Method::kGet:
      return "GET";
    case Method::kPost:
      return "POST";
    case Method::kPut:
      return "PUT";
    case Method::kDelete:
      return "DELETE";
    case Method::kFetch:
      return "FETCH";
    case Method::kPatch:
      return "PATCH";
    case Method::kIpatch:
      return "iPATCH";
  }
  return "?";
}

std::string codeText(std::uint8_t code) {
  char text[8];
  std::snprintf(text, sizeof text, "%d.%02d", code >> 5, code & 0x1f);
  return text;
}

namespace tlv {

std::string encode(Kind kind, std::uint16_t id, std::string_view value) {
  std::string out;
  std::uint8_t type = static_cast<std::uint8_t>(static_cast<std::uint8_t>(kind) << 6);
  if (id > 0xff) type |= 0x20;
  std::size_t length = value.size();
  int lengthBytes = 0;
  if (length < 8) {
    type |= static_cast<std::uint8_t>(length);
  } else if (length <= 0xff) {
    type |= 0x08;
    lengthBytes = 1;
  } else if (length <= 0xffff) {
    type |= 0x10;
    lengthBytes = 2;
  } else {
    type |= 0x18;
    lengthBytes = 3;
  }
  out += static_cast<char>(type);
  if (id > 0xff) out += static_cast<char>(id >> 8);
  out += static_cast<char>(id & 0xff);
  for (int i = lengthBytes - 1; i >= 0; --i) out += static_cast<char>((length >> (8 * i)) & 0xff);
  out.append(value);
  return out;
}

std::string encodeInteger(std::int64_t value) {
  int bytes = 8;
  if (value >= INT8_MIN && value <= INT8_MAX) {
    bytes = 1;
  } else if (value >= INT16_MIN && value <= INT16_MAX) {
    bytes = 2;
  } else if (value >= INT32_MIN && value <= INT32_MAX) {
    bytes = 4;
  }
  auto bits = static_cast<std::uint64_t>(value);
  std::string out;
  for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}

std::optional<std::vector<Entry>> decode(std::string_view bytes) {
  std::vector<Entry> entries;
  std::size_t at = 0;
  // Each entry consumes at least two bytes, so the loop ends after bytes.size() / 2 turns.
  while (at < bytes.size()) {
    auto type = static_cast<std::uint8_t>(bytes[at++]);
    std::size_t idBytes = (type & 0x20) ? 2 : 1;
    std::size_t lengthBytes = (type >> 3) & 0x03;
    if (bytes.size() - at < idBytes + lengthBytes) return std::nullopt;
    Entry entry;
    entry.kind = static_cast<Kind>(type >> 6);
    std::uint32_t id = 0;
    for (std::size_t i = 0; i < idBytes; ++i)
      id = (id << 8) | static_cast<std::uint8_t>(bytes[at++]);
    entry.id = static_cast<std::uint16_t>(id);
    std::size_t length = type & 0x07;
    if (lengthBytes > 0) {
      length = 0;
      for (std::size_t i = 0; i < lengthBytes; ++i) {
        length = (length << 8) | static_cast<std::uint8_t>(bytes[at++]);
      }
    }
    if (bytes.size() - at < length) return std::nullopt;
    entry.value.assign(bytes.substr(at, length));
    at += length;
    entries.push_back(std::move(entry));
  }
  return entries;
}

std::optional<std::int64_t> decodeInteger(std::string_view bytes) {
  std::size_t n = bytes.size();
  if (n != 1 && n != 2 && n != 4 && n != 8) return std::nullopt;
  // Sign-extend from the first byte, then shift in the rest.
  std::int64_t value = static_cast<std::int8_t>(bytes[0]);
  for (std::size_t i = 1; i < n; ++i) {
    value = static_cast<std::int64_t>(static_cast<std::uint64_t>(value) << 8 |
                                      static_cast<std::uint8_t>(bytes[i]));
  }
  return value;
}

}  // namespace tlv

ObjectStore::ObjectStore(Clock clock) : clock_(std::move(clock)) {}

ObjectStore ObjectStore::standard(const std::string& endpoint, std::uint32_t lifetime,
                                  bool firmware, Clock clock) {
  ObjectStore store(std::move(clock));
  // Object 1, Server (TS Core Appendix E.2).
  store.addInteger(1, 0, 0, 1, false);                       // Short Server ID
  store.addInteger(1, 0, 1, lifetime, true, 1, UINT32_MAX);  // Lifetime
  store.addString(1, 0, 7, "U", true);                       // Binding
  // Object 3, Device (Appendix E.4).
  store.addString(3, 0, 0, "lwgate-sim", false);  // Manufacturer
  store.addString(3, 0, 1, "sim-1", false);       // Model Number
  store.addString(3, 0, 2, endpoint, false);      // Serial Number
  store.addString(3, 0, 3, "1.0", false);         // Firmware Version
  store.addExecutable(3, 0, 4);                   // Reboot
  // Available Power Sources (1 internal battery, 5 USB) and their voltages in mV: multiple
  // instances, so Read and Write of resource instances (/3/0/7/1) have something to work on.
  // The sim lets a server write the voltages (read-only on a real device).
  store.addIntegers(3, 0, 6, {{0, 1}, {1, 5}}, false);
  store.addIntegers(3, 0, 7, {{0, 3800}, {1, 5000}}, true);
  store.addInteger(3, 0, 9, 95, false, 0, 100);  // Battery Level
  store.addTime(3, 0, 13, true);                 // Current Time
  store.addString(3, 0, 16, "U", false);         // Supported Binding and Modes
  if (firmware) {
    // Object 5, Firmware Update (Appendix E.6), enough for a server to drive a pull update.
    store.addString(5, 0, 1, "", true);         // Package URI
    store.addExecutable(5, 0, 2);               // Update
    store.addInteger(5, 0, 3, 0, false, 0, 3);  // State: Idle
    store.addInteger(5, 0, 5, 0, false, 0, 9);  // Update Result: initial value
  }
  return store;
}

void ObjectStore::addString(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                            std::string value, bool writable) {
  Resource r;
  r.type = Type::kString;
  r.writable = writable;
  r.text = std::move(value);
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addInteger(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                             std::int64_t value, bool writable, std::int64_t min,
                             std::int64_t max) {
  Resource r;
  r.type = Type::kInteger;
  r.writable = writable;
  r.integer = value;
  r.min = min;
  r.max = max;
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addTime(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                          bool writable) {
  Resource r;
  r.type = Type::kTime;
  r.writable = writable;
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addExecutable(std::uint16_t object, std::uint16_t instance,
                                std::uint16_t resource) {
  Resource r;
  r.type = Type::kExecutable;
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addFloat(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                           double value, bool writable) {
  Resource r;
  r.type = Type::kFloat;
  r.writable = writable;
  r.real = value;
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addIntegers(std::uint16_t object, std::uint16_t instance, std::uint16_t resource,
                              std::map<std::uint16_t, std::int64_t> values, bool writable) {
  Resource r;
  r.type = Type::kIntegers;
  r.writable = writable;
  r.instances = std::move(values);
  objects_[object][instance][resource] = std::move(r);
}

void ObjectStore::addTemperatureSensor() {
  addFloat(3303, 0, 5700, 21.5, false);    // Sensor Value
  addString(3303, 0, 5701, "Cel", false);  // Sensor Units
}

std::uint32_t ObjectStore::lifetime() const {
  auto& r = objects_.at(1).at(0).at(1);
  return static_cast<std::uint32_t>(r.integer);
}

void ObjectStore::setLifetime(std::uint32_t lifetime) {
  objects_.at(1).at(0).at(1).integer = lifetime;
}

std::vector<std::pair<std::string, unsigned>> ObjectStore::executions() const {
  std::vector<std::pair<std::string, unsigned>> out;
  for (const auto& [objectId, object] : objects_) {
    for (const auto& [instanceId, instance] : object) {
      for (const auto& [resourceId, resource] : instance) {
        if (resource.type == Type::kExecutable && resource.executions > 0) {
          out.emplace_back(pathText({objectId, instanceId, resourceId}), resource.executions);
        }
      }
    }
  }
  return out;
}

ObjectStore::Resource* ObjectStore::find(std::uint16_t object, std::uint16_t instance,
                                         std::uint16_t resource) {
  auto o = objects_.find(object);
  if (o == objects_.end()) return nullptr;
  auto i = o->second.find(instance);
  if (i == o->second.end()) return nullptr;
  auto r = i->second.find(resource);
  return r == i->second.end() ? nullptr : &r->second;
}

ServerReply ObjectStore::handle(const ServerRequest& request, std::int64_t nowMs) {
  // Paths name an object, an instance, a resource or an instance of a multiple-instance
  // resource.
  if (request.path.empty() || request.path.size() > 4) return reply(kCoapNotFound);
  std::vector<std::uint16_t> ids;
  for (const auto& segment : request.path) {
    auto id = parseId(segment);
    if (!id) return reply(kCoapNotFound);
    ids.push_back(*id);
  }
  auto o = objects_.find(ids[0]);
  if (o == objects_.end()) return reply(kCoapNotFound);
  if (ids.size() >= 2) {
    auto i = o->second.find(ids[1]);
    if (i == o->second.end()) return reply(kCoapNotFound);
    if (ids.size() >= 3) {
      auto r = i->second.find(ids[2]);
      if (r == i->second.end()) return reply(kCoapNotFound);
      if (ids.size() == 4 &&
          (r->second.type != Type::kIntegers || !r->second.instances.contains(ids[3]))) {
        return reply(kCoapNotFound);
      }
    }
  }

  switch (request.method) {
    case Method::kGet:
      // TS Core section 6.3.2 (Discover) is a GET with Accept: application/link-format.
      if (request.accept == kFormatLinkFormat) {
        if (ids.size() == 4) return reply(kCoapBadRequest);
        return discover(ids);
      }
      if (request.observe) return observe(ids, request, nowMs);
      return read(ids, request.accept);
    case Method::kPut:
      // Write-Attributes (section 6.3.4) is a PUT with only Uri-Query.
      if (request.hasQuery && request.payload.empty() && !request.contentFormat) {
        return writeAttributes(ids, request);
      }
      // Replace on a whole object is not an LwM2M operation.
      if (ids.size() == 1) return reply(kCoapMethodNotAllowed);
      return write(ids, request);
    case Method::kPost:
      // POST on a resource is Execute, on an instance a partial-update Write (section 6.3.3);
      // on an object it would be Create, which the sim's fixed instances do not support.
      if (ids.size() == 3) return execute(ids);
      if (ids.size() == 2) return write(ids, request);
      return reply(kCoapMethodNotAllowed);
    case Method::kDelete:
      // Every instance is mandatory or single in the sim; deleting one is refused.
    case Method::kFetch:
    case Method::kPatch:
    case Method::kIpatch:
      // Composite operations need SenML/LwM2M-CBOR, which the sim does not speak.
      return reply(kCoapMethodNotAllowed);
  }
  return reply(kCoapMethodNotAllowed);
}

std::string ObjectStore::textValue(const Resource& resource) const {
  switch (resource.type) {
    case Type::kString:
      return resource.text;
    case Type::kInteger:
      return std::to_string(resource.integer);
    case Type::kTime:
      return std::to_string(clock_() + resource.integer);
    case Type::kFloat:
      return formatReal(resource.real);
    case Type::kExecutable:
    case Type::kIntegers:
      break;
  }
  return {};
}

std::string ObjectStore::tlvValue(const Resource& resource) const {
  switch (resource.type) {
    case Type::kString:
      return resource.text;
    case Type::kInteger:
      return tlv::encodeInteger(resource.integer);
    case Type::kTime:
      return tlv::encodeInteger(clock_() + resource.integer);
    case Type::kFloat:
      return encodeDouble(resource.real);
    case Type::kExecutable:
    case Type::kIntegers:
      break;
  }
  return {};
}

std::string ObjectStore::senmlValue(const Resource& resource) const {
  switch (resource.type) {
    case Type::kString:
      return "\"vs\":" + jsonString(resource.text);
    case Type::kInteger:
    case Type::kTime:
    case Type::kFloat:
      return "\"v\":" + textValue(resource);
    case Type::kExecutable:
    case Type::kIntegers:
      break;
  }
  return {};
}

std::string ObjectStore::encodeResource(std::uint16_t id, const Resource& resource) const {
  if (resource.type == Type::kIntegers) {
    std::string instances;
    for (const auto& [ri, value] : resource.instances) {
      instances += tlv::encode(tlv::Kind::kResourceInstance, ri, tlv::encodeInteger(value));
    }
    return tlv::encode(tlv::Kind::kMultipleResource, id, instances);
  }
  return tlv::encode(tlv::Kind::kResource, id, tlvValue(resource));
}

std::string ObjectStore::encodeInstance(const Instance& instance) const {
  std::string out;
  // Executable resources have no value and are left out of instance reads (section 6.3.1).
  for (const auto& [id, resource] : instance) {
    if (resource.type != Type::kExecutable) out += encodeResource(id, resource);
  }
  return out;
}

void ObjectStore::senmlRecords(const std::vector<std::uint16_t>& ids, std::string& out) const {
  // One record per value, each with its full name (RFC 8428 "n"; LwM2M TS 7.4.5).
  auto add = [&out](const std::string& name, const std::string& value) {
    out += (out.size() > 1 ? ",{\"n\":" : "{\"n\":") + jsonString(name) + "," + value + "}";
  };
  const Object& object = objects_.at(ids[0]);
  for (const auto& [instanceId, instance] : object) {
    if (ids.size() >= 2 && instanceId != ids[1]) continue;
    for (const auto& [resourceId, resource] : instance) {
      if (ids.size() >= 3 && resourceId != ids[2]) continue;
      const std::string name = pathText({ids[0], instanceId, resourceId});
      if (resource.type == Type::kExecutable) continue;
      if (resource.type != Type::kIntegers) {
        add(name, senmlValue(resource));
        continue;
      }
      for (const auto& [ri, value] : resource.instances) {
        if (ids.size() == 4 && ri != ids[3]) continue;
        add(name + "/" + std::to_string(ri), "\"v\":" + std::to_string(value));
      }
    }
  }
}

std::optional<std::string> ObjectStore::senmlJson(const std::vector<std::string>& paths) const {
  std::string out = "[";
  for (const auto& path : paths) {
    auto ids = parsePathText(path);
    if (!ids || ids->empty() || ids->size() > 3) return std::nullopt;
    auto object = objects_.find((*ids)[0]);
    if (object == objects_.end()) return std::nullopt;
    if (ids->size() >= 2) {
      auto instance = object->second.find((*ids)[1]);
      if (instance == object->second.end()) return std::nullopt;
      if (ids->size() == 3 && !instance->second.contains((*ids)[2])) return std::nullopt;
    }
    senmlRecords(*ids, out);
  }
  if (out.size() == 1) return std::nullopt;  // only executables: nothing to send
  return out + "]";
}

ServerReply ObjectStore::readSenml(const std::vector<std::uint16_t>& ids) const {
  std::string payload = "[";
  senmlRecords(ids, payload);
  return ServerReply{kCoapContent, kFormatSenmlJson, payload + "]"};
}

ServerReply ObjectStore::read(const std::vector<std::uint16_t>& ids,
                              std::optional<unsigned> accept) const {
  const Object& object = objects_.at(ids[0]);
  if (ids.size() >= 3) {
    const Resource& resource = object.at(ids[1]).at(ids[2]);
    if (resource.type == Type::kExecutable) return reply(kCoapMethodNotAllowed);
  }
  if (accept == kFormatSenmlJson) return readSenml(ids);
  if (ids.size() == 4) {
    const std::int64_t value = object.at(ids[1]).at(ids[2]).instances.at(ids[3]);
    if (!accept || *accept == kFormatText) {
      return ServerReply{kCoapContent, kFormatText, std::to_string(value)};
    }
    if (*accept == kFormatTlv) {
      return ServerReply{
          kCoapContent, kFormatTlv,
          tlv::encode(tlv::Kind::kResourceInstance, ids[3], tlv::encodeInteger(value))};
    }
    return reply(kCoapNotAcceptable);
  }
  if (ids.size() == 3) {
    const Resource& resource = object.at(ids[1]).at(ids[2]);
    if (resource.type == Type::kIntegers) {
      // Several values: TLV (the default here) or SenML.
      if (accept && *accept != kFormatTlv) return reply(kCoapNotAcceptable);
      return ServerReply{kCoapContent, kFormatTlv, encodeResource(ids[2], resource)};
    }
    // Without Accept the client picks; text/plain is the plain choice for one value.
    if (!accept || *accept == kFormatText) {
      return ServerReply{kCoapContent, kFormatText, textValue(resource)};
    }
    if (*accept == kFormatTlv) {
      return ServerReply{kCoapContent, kFormatTlv, encodeResource(ids[2], resource)};
    }
    return reply(kCoapNotAcceptable);
  }
  // Several values: TLV or SenML (text/plain is for single values).
  if (accept && *accept != kFormatTlv) return reply(kCoapNotAcceptable);
  if (ids.size() == 2) {
    return ServerReply{kCoapContent, kFormatTlv, encodeInstance(object.at(ids[1]))};
  }
  std::string payload;
  for (const auto& [instanceId, instance] : object) {
    payload += tlv::encode(tlv::Kind::kObjectInstance, instanceId, encodeInstance(instance));
  }
  return ServerReply{kCoapContent, kFormatTlv, std::move(payload)};
}

ServerReply ObjectStore::discover(const std::vector<std::uint16_t>& ids) const {
  // Section 6.3.2: an object lists itself, its instances and their resources; an instance
  // itself and its resources; a resource only itself. The sim attaches no attributes.
  std::string links = "<" + pathText(ids) + ">";
  const Object& object = objects_.at(ids[0]);
  for (const auto& [instanceId, instance] : object) {
    if (ids.size() >= 2 && instanceId != ids[1]) continue;
    if (ids.size() == 1)
      links += ",</" + std::to_string(ids[0]) + "/" + std::to_string(instanceId) + ">";
    if (ids.size() == 3) break;
    for (const auto& [resourceId, resource] : instance) {
      links += ",<" + pathText({ids[0], instanceId, resourceId}) + ">";
    }
  }
  return ServerReply{kCoapContent, kFormatLinkFormat, std::move(links)};
}

std::uint8_t ObjectStore::parseValue(Resource& resource, std::string_view bytes, bool isTlv,
                                     Pending& out) const {
  out.resource = &resource;
  if (resource.type == Type::kString) {
    if (bytes.size() > kMaxStringBytes) return kCoapTooLarge;
    out.text.assign(bytes);
    return 0;
  }
  if (resource.type == Type::kFloat) {
    if (isTlv) {
      auto decoded = decodeFloat(bytes);
      if (!decoded) return kCoapBadRequest;
      out.real = *decoded;
      return 0;
    }
    double value = 0;
    auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), value);
    if (ec != std::errc() || end != bytes.data() + bytes.size() || bytes.empty()) {
      return kCoapBadRequest;
    }
    out.real = value;
    return 0;
  }
  std::int64_t value = 0;
  if (isTlv) {
    auto decoded = tlv::decodeInteger(bytes);
    if (!decoded) return kCoapBadRequest;
    value = *decoded;
  } else {
    auto [end, ec] = std::from_chars(bytes.data(), bytes.data() + bytes.size(), value);
    if (ec != std::errc() || end != bytes.data() + bytes.size() || bytes.empty()) {
      return kCoapBadRequest;
    }
  }
  if (resource.type == Type::kTime) {
    out.integer = value - clock_();
    return 0;
  }
  if (value < resource.min || value > resource.max) return kCoapBadRequest;
  out.integer = value;
  return 0;
}

std::uint8_t ObjectStore::parseInstances(Resource& resource, std::string_view tlvValue,
                                         Pending& out) const {
  out.resource = &resource;
  auto entries = tlv::decode(tlvValue);
  if (!entries) return kCoapBadRequest;
  std::map<std::uint16_t, std::int64_t> values;
  for (const auto& entry : *entries) {
    if (entry.kind != tlv::Kind::kResourceInstance || entry.id == 65535) return kCoapBadRequest;
    auto value = tlv::decodeInteger(entry.value);
    if (!value) return kCoapBadRequest;
    values[entry.id] = *value;
  }
  if (values.size() > 16) return kCoapTooLarge;
  out.instances = std::move(values);
  return 0;
}

void ObjectStore::store(const Pending& pending) {
  Resource& r = *pending.resource;
  if (pending.instances) {
    r.instances = *pending.instances;
  } else if (pending.instance) {
    r.instances[*pending.instance] = pending.integer;
  } else if (r.type == Type::kString) {
    r.text = pending.text;
  } else if (r.type == Type::kFloat) {
    r.real = pending.real;
  } else {
    r.integer = pending.integer;
  }
  changed(pending.ids);
}

ServerReply ObjectStore::write(const std::vector<std::uint16_t>& ids,
                               const ServerRequest& request) {
  if (!request.contentFormat) return reply(kCoapBadRequest);
  const unsigned format = *request.contentFormat;
  if (ids.size() == 4) {
    // A resource instance (LwM2M 1.1 TS Core 6.3.3): text/plain, or TLV with one resource
    // instance entry carrying its id.
    Resource& resource = *find(ids[0], ids[1], ids[2]);
    if (!resource.writable || request.method != Method::kPut) return reply(kCoapMethodNotAllowed);
    Resource scratch;
    scratch.type = Type::kInteger;
    Pending pending{};
    std::string_view value = request.payload;
    bool isTlv = false;
    std::optional<std::vector<tlv::Entry>> entries;
    if (format == kFormatTlv) {
      entries = tlv::decode(request.payload);
      if (!entries || entries->size() != 1 || (*entries)[0].kind != tlv::Kind::kResourceInstance ||
          (*entries)[0].id != ids[3]) {
        return reply(kCoapBadRequest);
      }
      value = (*entries)[0].value;
      isTlv = true;
    } else if (format != kFormatText) {
      return reply(kCoapUnsupportedFormat);
    }
    if (auto code = parseValue(scratch, value, isTlv, pending)) return reply(code);
    pending.resource = &resource;
    pending.instance = ids[3];
    pending.ids = ids;
    store(pending);
    return reply(kCoapChanged);
  }
  if (ids.size() == 3) {
    Resource& resource = *find(ids[0], ids[1], ids[2]);
    if (!resource.writable) return reply(kCoapMethodNotAllowed);
    std::string_view value = request.payload;
    Pending pending{};
    pending.ids = ids;
    if (resource.type == Type::kIntegers) {
      // Replace all instances: one multiple-resource TLV entry.
      auto entries = tlv::decode(request.payload);
      if (format != kFormatTlv) return reply(kCoapUnsupportedFormat);
      if (!entries || entries->size() != 1 || (*entries)[0].kind != tlv::Kind::kMultipleResource ||
          (*entries)[0].id != ids[2]) {
        return reply(kCoapBadRequest);
      }
      if (auto code = parseInstances(resource, (*entries)[0].value, pending)) return reply(code);
      store(pending);
      return reply(kCoapChanged);
    }
    if (format == kFormatTlv) {
      // A single-resource Write in TLV is one resource entry carrying the resource's id.
      auto entries = tlv::decode(request.payload);
      if (!entries || entries->size() != 1 || (*entries)[0].kind != tlv::Kind::kResource ||
          (*entries)[0].id != ids[2]) {
        return reply(kCoapBadRequest);
      }
      if (auto code = parseValue(resource, (*entries)[0].value, true, pending)) return reply(code);
      store(pending);
      return reply(kCoapChanged);
    }
    if (format != kFormatText) return reply(kCoapUnsupportedFormat);
    if (auto code = parseValue(resource, value, false, pending)) return reply(code);
    store(pending);
    return reply(kCoapChanged);
  }

  // Instance Write (Replace with PUT, Partial Update with POST): only TLV carries several
  // resources. The sim's resources are all mandatory, so Replace only overwrites those sent.
  if (format != kFormatTlv) return reply(kCoapUnsupportedFormat);
  auto entries = tlv::decode(request.payload);
  if (!entries) return reply(kCoapBadRequest);
  // Servers may wrap the resources in the instance's own entry.
  if (entries->size() == 1 && (*entries)[0].kind == tlv::Kind::kObjectInstance) {
    if ((*entries)[0].id != ids[1]) return reply(kCoapBadRequest);
    entries = tlv::decode((*entries)[0].value);
    if (!entries) return reply(kCoapBadRequest);
  }
  if (entries->empty()) return reply(kCoapBadRequest);
  std::vector<Pending> pending;
  for (const auto& entry : *entries) {
    Resource* resource = find(ids[0], ids[1], entry.id);
    if (!resource) return reply(kCoapNotFound);
    if (!resource->writable) return reply(kCoapMethodNotAllowed);
    Pending one{};
    one.ids = {ids[0], ids[1], entry.id};
    if (entry.kind == tlv::Kind::kMultipleResource && resource->type == Type::kIntegers) {
      if (auto code = parseInstances(*resource, entry.value, one)) return reply(code);
    } else if (entry.kind == tlv::Kind::kResource && resource->type != Type::kIntegers) {
      if (auto code = parseValue(*resource, entry.value, true, one)) return reply(code);
    } else {
      return reply(kCoapBadRequest);
    }
    pending.push_back(std::move(one));
  }
  for (const auto& one : pending) store(one);
  return reply(kCoapChanged);
}

ServerReply ObjectStore::execute(const std::vector<std::uint16_t>& ids) {
  Resource& resource = *find(ids[0], ids[1], ids[2]);
  // Section 6.3.5: Execute on a resource that is not executable is 4.05.
  if (resource.type != Type::kExecutable) return reply(kCoapMethodNotAllowed);
  ++resource.executions;
  ServerReply out = reply(kCoapChanged);
  out.executed = pathText(ids);
  return out;
}

// ---- Observations -----------------------------------------------------------------------------

ServerReply ObjectStore::writeAttributes(const std::vector<std::uint16_t>& ids,
                                         const ServerRequest& request) {
  // TS Core 5.1.2: pmin and pmax drive this sim's notifications; gt/lt/st/epmin/epmax (and
  // 1.2's edge/con/hqmax) are accepted and have no effect here.
  Attributes attributes = attributes_[pathText(ids)];
  for (const auto& item : request.query) {
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq);
    const std::string_view value =
        eq == std::string::npos ? std::string_view() : std::string_view(item).substr(eq + 1);
    if (name == "pmin" || name == "pmax") {
      if (eq == std::string::npos) return reply(kCoapBadRequest);
      auto& slot = name == "pmin" ? attributes.pminMs : attributes.pmaxMs;
      if (!parseAttributeSeconds(value, slot)) return reply(kCoapBadRequest);
    }
  }
  attributes_[pathText(ids)] = attributes;
  return reply(kCoapChanged);
}

ServerReply ObjectStore::observe(const std::vector<std::uint16_t>& ids,
                                 const ServerRequest& request, std::int64_t nowMs) {
  if (*request.observe == 1) {
    // RFC 7641 3.6: a GET with Observe: 1 ends the observation with this token and is
    // answered like a plain GET.
    observations_.erase(request.token);
    return read(ids, request.accept);
  }
  if (*request.observe != 0) return read(ids, request.accept);
  Observation o;
  o.ids = ids;
  o.accept = request.accept;
  for (const auto& item : request.query) {
    const auto eq = item.find('=');
    const std::string name = item.substr(0, eq);
    if (eq == std::string::npos || (name != "pmin" && name != "pmax")) continue;
    auto& slot = name == "pmin" ? o.own.pminMs : o.own.pmaxMs;
    if (!parseAttributeSeconds(std::string_view(item).substr(eq + 1), slot)) {
      return reply(kCoapBadRequest);
    }
  }
  ServerReply out = read(ids, request.accept);
  if (out.code != kCoapContent) return out;  // an error ends or refuses it (RFC 7641 4.1)
  // The same token again re-registers (RFC 7641 4.1): the entry is replaced.
  if (!observations_.contains(request.token) && observations_.size() >= kMaxObservations) {
    return out;  // without Observe: "not added to the list of observers"
  }
  o.lastSeq = nextSeq();
  o.lastSentMs = nowMs;
  out.observe = o.lastSeq;
  observations_[request.token] = std::move(o);
  return out;
}

ObjectStore::Attributes ObjectStore::effectiveAttributes(const Observation& o) const {
  Attributes out = o.own;
  // Attributes set on the path or, when not there, on a parent (TS Core 5.1.1 inheritance).
  for (std::size_t depth = o.ids.size(); depth > 0; --depth) {
    auto it = attributes_.find(
        pathText(std::vector<std::uint16_t>(o.ids.begin(), o.ids.begin() + depth)));
    if (it == attributes_.end()) continue;
    if (!out.pminMs) out.pminMs = it->second.pminMs;
    if (!out.pmaxMs) out.pmaxMs = it->second.pmaxMs;
  }
  return out;
}

void ObjectStore::changed(const std::vector<std::uint16_t>& ids) {
  for (auto& [token, o] : observations_) {
    if (isPrefix(o.ids, ids) || isPrefix(ids, o.ids)) o.changed = true;
  }
}

std::uint32_t ObjectStore::nextSeq() {
  seq_ = (seq_ + 1) & 0xffffff;  // the Observe option holds 24 bits
  return seq_;
}

std::vector<Notification> ObjectStore::dueNotifications(std::int64_t nowMs) {
  std::vector<Notification> out;
  for (auto it = observations_.begin(); it != observations_.end();) {
    Observation& o = it->second;
    const Attributes a = effectiveAttributes(o);
    const std::int64_t since = nowMs - o.lastSentMs;
    const bool due = (o.changed && (!a.pminMs || since >= *a.pminMs)) ||
                     (a.pmaxMs && *a.pmaxMs > 0 && since >= *a.pmaxMs);
    if (!due) {
      ++it;
      continue;
    }
    ServerReply value = read(o.ids, o.accept);
    Notification n;
    n.token = it->first;
    n.path = pathText(o.ids);
    n.code = value.code;
    n.contentFormat = value.contentFormat;
    n.payload = std::move(value.payload);
    o.lastSentMs = nowMs;
    o.changed = false;
    if (n.code == kCoapContent) {
      o.lastSeq = nextSeq();
      n.observe = o.lastSeq;
      ++it;
    } else {
      it = observations_.erase(it);  // an error notification ends it (RFC 7641 3.2)
    }
    out.push_back(std::move(n));
  }
  return out;
}

bool ObjectStore::bump(const std::string& path) {
  auto ids = parsePathText(path);
  if (!ids || ids->size() != 3) return false;
  Resource* r = find((*ids)[0], (*ids)[1], (*ids)[2]);
  if (!r) return false;
  if (r->type == Type::kInteger) {
    r->integer = r->integer < r->max ? r->integer + 1 : r->min;
  } else if (r->type == Type::kFloat) {
    r->real += 0.5;
  } else {
    return false;
  }
  changed(*ids);
  return true;
}

std::optional<Notification> ObjectStore::staleNotification(const std::string& path) {
  for (const auto& [token, o] : observations_) {
    if (pathText(o.ids) != path) continue;
    ServerReply value = read(o.ids, o.accept);
    Notification n;
    n.token = token;
    n.path = path;
    n.code = value.code;
    n.observe = (o.lastSeq + 0xffffff) & 0xffffff;  // one before the last one sent
    n.contentFormat = value.contentFormat;
    n.payload = std::move(value.payload);
    return n;
  }
  return std::nullopt;
}

std::optional<Notification> ObjectStore::malformedNotification(const std::string& path) {
  for (auto& [token, o] : observations_) {
    if (pathText(o.ids) != path) continue;
    Notification n;
    n.token = token;
    n.path = path;
    n.code = kCoapContent;
    o.lastSeq = nextSeq();
    n.observe = o.lastSeq;
    n.contentFormat = kFormatTlv;
    n.payload = std::string("\xc8\x09\x7f", 3);  // a resource of 127 bytes, with none
    return n;
  }
  return std::nullopt;
}

bool ObjectStore::dropObservation(const std::string& token) {
  return observations_.erase(token) > 0;
}

std::vector<std::pair<std::string, std::string>> ObjectStore::observations() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [token, o] : observations_) out.emplace_back(pathText(o.ids), token);
  return out;
}

}  // namespace lwgate::sim
