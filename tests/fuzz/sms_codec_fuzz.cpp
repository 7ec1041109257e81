// Fuzz target: SMS user data (modem/sms_codec.h): the User Data Header of a received SMS and the
// split of TP-UD into header and data, plus the sender side as a round trip. Input: byte 0 is
// TP-UDHI (bit 0) and the segmentation layout (bits 1-3), byte 1 the concatenation reference;
// the rest is a received TP-UD and, at the same time, a CoAP message to send.
// Properties: a split TP-UD joins back to the input and its header parses; segment() makes
// parts of at most 140 octets whose headers parse to sequence k of n, and the parts joined in
// order are the message again.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "modem/sms_codec.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace lwgate;
  using fuzz::check;
  fuzz::Reader in({data, size});
  const std::uint8_t mode = in.byte();
  const std::uint8_t reference = in.byte();
  const auto userData = in.rest();

  // Receiving.
  (void)modem::parseHeader(userData);
  if (auto part = modem::splitUserData(userData, mode & 1)) {
    const auto joined = part->userData();
    check(std::equal(joined.begin(), joined.end(), userData.begin(), userData.end()),
          "header + data == TP-UD");
    if (!part->header.empty()) check(modem::parseHeader(part->header).ok(), "split header parses");
  }

  // Sending the same bytes as a message.
  modem::SegmentOptions options;
  options.width = (mode & 2) ? modem::ConcatWidth::k16bit : modem::ConcatWidth::k8bit;
  options.reference = static_cast<std::uint16_t>(reference * 257);
  if (mode & 4) options.ports = modem::Ports{5684, 5683};
  if (mode & 8) options.maxParts = 3;
  auto parts = modem::segment(userData, options);
  if (!parts) {
    check(userData.empty() || options.maxParts < 255, "only empty or too large is refused");
    return 0;
  }
  check(!parts->empty() && parts->size() <= options.maxParts, "part count");
  std::vector<std::uint8_t> joined;
  for (std::size_t k = 0; k < parts->size(); ++k) {
    const auto& p = (*parts)[k];
    check(p.userData().size() <= modem::kMaxUserData, "part fits in one SMS");
    if (!p.header.empty()) {
      auto udh = modem::parseHeader(p.header);
      check(udh.ok(), "our header parses");
      check(udh->ports == options.ports, "ports survive");
      if (parts->size() > 1) {
        check(udh->concat && udh->concat->sequence == k + 1 &&
                  udh->concat->total == parts->size() && udh->concat->width == options.width,
              "concatenation element");
      }
    } else {
      check(parts->size() == 1 && !options.ports, "no header only for one plain part");
    }
    joined.insert(joined.end(), p.data.begin(), p.data.end());
  }
  check(std::equal(joined.begin(), joined.end(), userData.begin(), userData.end()),
        "parts join to the message");
  return 0;
}
