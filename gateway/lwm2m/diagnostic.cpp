#include "gateway/lwm2m/diagnostic.h"

namespace lwgate::lwm2m {

std::string escapeForMessage(std::string_view in, std::size_t budget) {
  static constexpr std::string_view kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : in) {
    const auto c = static_cast<unsigned char>(ch);
    std::string piece;
    if (c == '"' || c == '\\') {
      piece = {'\\', ch};
    } else if (c >= 0x20 && c < 0x7f) {
      piece = ch;
    } else {
      piece = {'\\', 'x', kHex[c >> 4], kHex[c & 0xf]};
    }
    if (out.size() + piece.size() > budget) {
      out += "...";
      break;
    }
    out += piece;
  }
  return out;
}

std::string quoteForMessage(std::string_view in, std::size_t budget) {
  return '"' + escapeForMessage(in, budget) + '"';
}

}  // namespace lwgate::lwm2m
