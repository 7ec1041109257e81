#include "modem/sms_codec.h"

#include <algorithm>

namespace lwgate::modem {
namespace {

constexpr std::size_t kConcat8Size = 5;   // IEI, IEDL=3, reference, total, sequence
constexpr std::size_t kConcat16Size = 6;  // IEI, IEDL=4, reference (2), total, sequence
constexpr std::size_t kPort16Size = 6;    // IEI, IEDL=4, destination (2), source (2)

std::size_t headerSize(bool concatenated, ConcatWidth width, bool ports) {
  std::size_t elements = 0;
  if (concatenated) elements += width == ConcatWidth::k8bit ? kConcat8Size : kConcat16Size;
  if (ports) elements += kPort16Size;
  return elements == 0 ? 0 : 1 + elements;  // + the UDHL octet
}

void putU16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

Error bad(std::string why) {
  return makeError(ErrorCode::kBadRequest, "bad SMS user data header: " + std::move(why));
}

std::uint16_t u16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] << 8 | b[at + 1]);
}

}  // namespace

std::vector<std::uint8_t> SmsPart::userData() const {
  std::vector<std::uint8_t> out = header;
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

std::size_t payloadPerPart(bool concatenated, ConcatWidth width, bool ports) {
  return kMaxUserData - headerSize(concatenated, width, ports);
}

Result<std::vector<SmsPart>> segment(std::span<const std::uint8_t> message,
                                     const SegmentOptions& options) {
  if (message.empty()) return makeError(ErrorCode::kBadRequest, "empty message");
  const bool ports = options.ports.has_value();
  const bool single = message.size() <= payloadPerPart(false, options.width, ports);
  const std::size_t per = payloadPerPart(!single, options.width, ports);
  const std::size_t count = (message.size() + per - 1) / per;
  const std::size_t limit = std::min<std::size_t>(options.maxParts, 255);
  if (count > limit) {
    return makeError(ErrorCode::kTooLarge, "a message of " + std::to_string(message.size()) +
                                               " bytes needs " + std::to_string(count) +
                                               " SMS, more than the limit of " +
                                               std::to_string(limit));
  }
  std::vector<SmsPart> parts(count);
  for (std::size_t k = 0; k < count; ++k) {
    SmsPart& p = parts[k];
    const std::size_t size = headerSize(!single, options.width, ports);
    if (size > 0) {
      p.header.reserve(size);
      p.header.push_back(static_cast<std::uint8_t>(size - 1));
      if (!single) {
        if (options.width == ConcatWidth::k8bit) {
          p.header.insert(p.header.end(),
                          {kIeConcat8, 3, static_cast<std::uint8_t>(options.reference & 0xff)});
        } else {
          p.header.insert(p.header.end(), {kIeConcat16, 4});
          putU16(p.header, options.reference);
        }
        p.header.push_back(static_cast<std::uint8_t>(count));
        p.header.push_back(static_cast<std::uint8_t>(k + 1));
      }
      if (ports) {
        p.header.insert(p.header.end(), {kIePort16, 4});
        putU16(p.header, options.ports->destination);
        putU16(p.header, options.ports->source);
      }
    }
    const std::size_t from = k * per;
    const std::size_t n = std::min(per, message.size() - from);
    p.data.assign(message.begin() + static_cast<std::ptrdiff_t>(from),
                  message.begin() + static_cast<std::ptrdiff_t>(from + n));
  }
  return parts;
}

Result<UserDataHeader> parseHeader(std::span<const std::uint8_t> header) {
  if (header.empty()) return bad("no length octet");
  if (header.size() != std::size_t{header[0]} + 1) {
    return bad("length octet says " + std::to_string(header[0]) + " but " +
               std::to_string(header.size() - 1) + " octets follow");
  }
  UserDataHeader out;
  std::size_t at = 1;
  // Every element is at least 2 octets, so this runs at most 70 times.
  while (at < header.size()) {
    if (header.size() - at < 2)
      return bad("information element cut short at octet " + std::to_string(at));
    const std::uint8_t iei = header[at];
    const std::size_t len = header[at + 1];
    const std::size_t body = at + 2;
    if (header.size() - body < len) {
      return bad("information element " + std::to_string(iei) + " runs past the header");
    }
    auto need = [&](std::size_t want) -> std::optional<Error> {
      if (len == want) return std::nullopt;
      return bad("information element " + std::to_string(iei) + " has length " +
                 std::to_string(len) + ", expected " + std::to_string(want));
    };
    if (iei == kIeConcat8 || iei == kIeConcat16) {
      const bool wide = iei == kIeConcat16;
      if (auto e = need(wide ? 4 : 3)) return *e;
      if (out.concat) return bad("more than one concatenation element");
      Concat c;
      c.width = wide ? ConcatWidth::k16bit : ConcatWidth::k8bit;
      c.reference = wide ? u16(header, body) : header[body];
      c.total = header[body + (wide ? 2 : 1)];
      c.sequence = header[body + (wide ? 3 : 2)];
      if (c.total == 0) return bad("concatenation element with 0 parts");
      if (c.sequence == 0 || c.sequence > c.total) {
        return bad("part " + std::to_string(c.sequence) + " of " + std::to_string(c.total));
      }
      out.concat = c;
    } else if (iei == kIePort8 || iei == kIePort16) {
      const bool wide = iei == kIePort16;
      if (auto e = need(wide ? 4 : 2)) return *e;
      if (out.ports) return bad("more than one port addressing element");
      out.ports = wide ? Ports{u16(header, body), u16(header, body + 2)}
                       : Ports{header[body], header[body + 1]};
    }
    at = body + len;
  }
  return out;
}

Result<SmsPart> splitUserData(std::span<const std::uint8_t> userData, bool udhi) {
  SmsPart part;
  if (!udhi) {
    part.data.assign(userData.begin(), userData.end());
    return part;
  }
  if (userData.empty()) return bad("header indicated but the user data is empty");
  const std::size_t size = std::size_t{userData[0]} + 1;
  if (size > userData.size()) {
    return bad("length octet says " + std::to_string(userData[0]) + " but only " +
               std::to_string(userData.size() - 1) + " octets follow");
  }
  auto parsed = parseHeader(userData.first(size));
  if (!parsed) return parsed.error();
  part.header.assign(userData.begin(), userData.begin() + static_cast<std::ptrdiff_t>(size));
  part.data.assign(userData.begin() + static_cast<std::ptrdiff_t>(size), userData.end());
  return part;
}

}  // namespace lwgate::modem
