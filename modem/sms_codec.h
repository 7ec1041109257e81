#pragma once
// CoAP over SMS framing (LwM2M TS Transport 1.1 7.x "SMS binding", early TS 9.3.3): a CoAP
// message travels in the 8-bit user data (TP-UD) of one or more SMS. When it does not fit in
// one SMS it is split with the concatenation information element of the User Data Header
// (3GPP TS 23.040 9.2.3.24.1 8-bit reference, 9.2.3.24.8 16-bit reference); an application
// port addressing element (9.2.3.24.4, 16-bit ports) may be added. Pure code: no libgammu.
//
// A part here is the TP-UD split in two: `header` is the UDH including its length octet (UDHL),
// exactly what libgammu keeps in GSM_UDHHeader.Text for a UDH_UserUDH, and `data` the octets
// after it (GSM_SMSMessage.Text of an 8-bit SMS).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gateway/util/result.h"

namespace lwgate::modem {

// Octets of TP-UD in one 8-bit SMS (160 septets = 140 octets).
inline constexpr std::size_t kMaxUserData = 140;
// Information element identifiers (TS 23.040 9.2.3.24).
inline constexpr std::uint8_t kIeConcat8 = 0x00;
inline constexpr std::uint8_t kIePort8 = 0x04;
inline constexpr std::uint8_t kIePort16 = 0x05;
inline constexpr std::uint8_t kIeConcat16 = 0x08;

enum class ConcatWidth : std::uint8_t { k8bit, k16bit };

struct Ports {
  std::uint16_t destination = 0;
  std::uint16_t source = 0;
  bool operator==(const Ports&) const = default;
};

struct Concat {
  ConcatWidth width = ConcatWidth::k8bit;
  std::uint16_t reference = 0;  // 0..255 for 8-bit
  std::uint8_t total = 1;       // parts in the message, 1..255
  std::uint8_t sequence = 1;    // this part, 1..total
  bool operator==(const Concat&) const = default;
};

struct SmsPart {
  std::vector<std::uint8_t> header;  // UDH with its length octet; empty: no UDH (TP-UDHI = 0)
  std::vector<std::uint8_t> data;
  // The whole TP-UD: header then data.
  std::vector<std::uint8_t> userData() const;
};

struct SegmentOptions {
  // Used only when the message needs more than one part. The 8-bit reference (the common
  // choice) leaves 134 octets per part; the 16-bit one 133 and repeats less often.
  ConcatWidth width = ConcatWidth::k8bit;
  std::uint16_t reference = 0;  // the caller's rolling counter; 8-bit uses its low byte
  std::optional<Ports> ports;   // add application port addressing (16-bit) to every part
  std::size_t maxParts = 255;   // more parts than this is kTooLarge (255 is the format's limit)
};

// Octets of message per part for a layout.
std::size_t payloadPerPart(bool concatenated, ConcatWidth width, bool ports);

// Splits a message into SMS parts: no UDH at all when it fits in 140 octets without ports, else
// the fewest parts of the chosen layout. kBadRequest for an empty message, kTooLarge beyond
// maxParts.
Result<std::vector<SmsPart>> segment(std::span<const std::uint8_t> message,
                                     const SegmentOptions& options = {});

// What a User Data Header says about framing. Other elements (SMSC control, text formatting,
// ...) are skipped, as TS 23.040 9.2.3.24 asks of receivers that do not know them.
struct UserDataHeader {
  std::optional<Concat> concat;
  std::optional<Ports> ports;
};

// Parses a UDH including its length octet. Untrusted input: kBadRequest with the reason for a
// length octet that disagrees with the size, an element running past the header, a framing
// element with the wrong length, a second concatenation or port element, or a concatenation
// element with no parts or a sequence number outside 1..total.
Result<UserDataHeader> parseHeader(std::span<const std::uint8_t> header);

// Splits a TP-UD whose TP-UDHI bit is set into header and data (checking the header as
// parseHeader does); with udhi false the whole of it is data.
Result<SmsPart> splitUserData(std::span<const std::uint8_t> userData, bool udhi);

}  // namespace lwgate::modem
