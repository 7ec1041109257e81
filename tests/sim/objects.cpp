#include "tests/sim/objects.h"

#include <charconv>
#include <cstdio>

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
  store.addInteger(3, 0, 9, 95, false, 0, 100);   // Battery Level
  store.addTime(3, 0, 13, true);                  // Current Time
  store.addString(3, 0, 16, "U", false);          // Supported Binding and Modes
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

ServerReply ObjectStore::handle(const ServerRequest& request) {
  // Paths name an object, an instance or a resource; the sim has no multiple-instance
  // resources, so a fourth segment never exists.
  if (request.path.empty() || request.path.size() > 3) return reply(kCoapNotFound);
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
    if (ids.size() == 3 && !i->second.contains(ids[2])) return reply(kCoapNotFound);
  }

  switch (request.method) {
    case Method::kGet:
      // TS Core section 6.3.2 (Discover) is a GET with Accept: application/link-format.
      if (request.accept == kFormatLinkFormat) return discover(ids);
      return read(ids, request.accept);
    case Method::kPut:
      // Write-Attributes (section 6.3.4) is a PUT with only Uri-Query. The sim accepts and
      // ignores them: it never sends notifications, so there is nothing they would change.
      if (request.hasQuery && request.payload.empty() && !request.contentFormat) {
        return reply(kCoapChanged);
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
    case Type::kExecutable:
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
    case Type::kExecutable:
      break;
  }
  return {};
}

std::string ObjectStore::encodeInstance(const Instance& instance) const {
  std::string out;
  // Executable resources have no value and are left out of instance reads (section 6.3.1).
  for (const auto& [id, resource] : instance) {
    if (resource.type != Type::kExecutable) {
      out += tlv::encode(tlv::Kind::kResource, id, tlvValue(resource));
    }
  }
  return out;
}

ServerReply ObjectStore::read(const std::vector<std::uint16_t>& ids,
                              std::optional<unsigned> accept) const {
  const Object& object = objects_.at(ids[0]);
  if (ids.size() == 3) {
    const Resource& resource = object.at(ids[1]).at(ids[2]);
    if (resource.type == Type::kExecutable) return reply(kCoapMethodNotAllowed);
    // Without Accept the client picks; text/plain is the plain choice for one value.
    if (!accept || *accept == kFormatText) {
      return ServerReply{kCoapContent, kFormatText, textValue(resource)};
    }
    if (*accept == kFormatTlv) {
      return ServerReply{kCoapContent, kFormatTlv,
                         tlv::encode(tlv::Kind::kResource, ids[2], tlvValue(resource))};
    }
    return reply(kCoapNotAcceptable);
  }
  // Several values: only TLV can carry them here (text/plain is for single values).
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

void ObjectStore::store(const Pending& pending) {
  if (pending.resource->type == Type::kString) {
    pending.resource->text = pending.text;
  } else {
    pending.resource->integer = pending.integer;
  }
}

ServerReply ObjectStore::write(const std::vector<std::uint16_t>& ids,
                               const ServerRequest& request) {
  if (!request.contentFormat) return reply(kCoapBadRequest);
  const unsigned format = *request.contentFormat;
  if (ids.size() == 3) {
    Resource& resource = *find(ids[0], ids[1], ids[2]);
    if (!resource.writable) return reply(kCoapMethodNotAllowed);
    std::string_view value = request.payload;
    if (format == kFormatTlv) {
      // A single-resource Write in TLV is one resource entry carrying the resource's id.
      auto entries = tlv::decode(request.payload);
      if (!entries || entries->size() != 1 || (*entries)[0].kind != tlv::Kind::kResource ||
          (*entries)[0].id != ids[2]) {
        return reply(kCoapBadRequest);
      }
      Pending pending{};
      if (auto code = parseValue(resource, (*entries)[0].value, true, pending)) return reply(code);
      store(pending);
      return reply(kCoapChanged);
    }
    if (format != kFormatText) return reply(kCoapUnsupportedFormat);
    Pending pending{};
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
    if (entry.kind != tlv::Kind::kResource) return reply(kCoapBadRequest);
    Resource* resource = find(ids[0], ids[1], entry.id);
    if (!resource) return reply(kCoapNotFound);
    if (!resource->writable) return reply(kCoapMethodNotAllowed);
    Pending one{};
    if (auto code = parseValue(*resource, entry.value, true, one)) return reply(code);
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
  return reply(kCoapChanged);
}

}  // namespace lwgate::sim
